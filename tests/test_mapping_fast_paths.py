"""The mapper's fast paths (issue 9) read exactly what the general paths read.

Each shortcut (own-patient reference, plain ids, per-request date cache,
early skip of codes that map to nothing, resourceType dispatch) is checked
against inputs where the shortcut must NOT apply as well as where it does.
"""
from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_mappings import build_facts, load_terminology
from fhir_mappings.fhirutil import _parse_datetime_general, parse_datetime, status_code
from spine_guideline.facts import SearchStatus

from .support.mapping import ALL_OK, ICD, LOCAL, LOINC, NOW, SCT, cc, condition, observation


def run(*resources, patient_id="p1", **kw):
    return build_facts(list(resources), searches=ALL_OK, now=NOW, patient_id=patient_id, **kw)


# ------------------------------------------------------------------ subject check
@pytest.mark.parametrize("patient_id,reference,kept", [
    ("p1", "Patient/p1", True),
    ("p1", " Patient/p1 ", True),
    ("p1", "Patient/p2", False),
    ("p1", "https://fhir.example/Patient/p1/_history/3", True),
    ("p1", "https://fhir.example/Patient/p2", False),
    ("a.b-1", "Patient/a.b-1", True),
    # ids that are not plain FHIR ids: the reference parser decides, as before
    ("x?y", "Patient/x?y", False),     # the query part is cut: read as Patient/x
    ("a/b", "Patient/a/b", True),      # "a" is not a resource type: not read as another patient
    ("p1", "Group/p2", True),          # not a Patient reference
])
def test_subject_of_another_patient_is_skipped(patient_id, reference, kept):
    f = run(condition(ICD, "G95.2", subject={"reference": reference}), patient_id=patient_id)
    assert bool(f.condition_records("cord-compression")) is kept
    assert any("another patient" in w for w in f.warnings) is not kept


# ------------------------------------------------------------------ ids in sources and warnings
@pytest.mark.parametrize("rid,shown", [
    ("o1", "o1"),
    ("a.b-C9", "a.b-C9"),
    ("o 1/é", "o_1__"),
    ("x" * 70, "x" * 64),
    ("é" * 3, "___"),
    (42, "42"),
])
def test_resource_ids_are_made_safe(rid, shown):
    f = run(observation(LOINC, "72514-3", {"valueInteger": 4}, rid=rid))
    assert f.obs("pain-score").sources[0].resource_id == shown


# ------------------------------------------------------------------ dates parsed once per request
def test_same_date_string_in_two_time_zones_of_now():
    """The per-request date cache is per request: 'now' in another zone reads a zone-less date anew."""
    res = observation(LOINC, "72514-3", {"valueInteger": 4}, date="2026-11-20T10:00:00")
    amsterdam = timezone(timedelta(hours=1))
    a = build_facts([res], searches=ALL_OK, now=NOW, patient_id="p1")
    b = build_facts([res], searches=ALL_OK, now=NOW.astimezone(amsterdam), patient_id="p1")
    assert a.obs("pain-score").is_known and b.obs("pain-score").is_known
    assert a.obs("pain-score").recorded == b.obs("pain-score").recorded == "2026-11-20T10:00:00"


def test_shared_date_strings_give_the_newest_record():
    older = observation(LOINC, "72514-3", {"valueInteger": 3}, rid="o1", date="2026-11-20")
    newer = observation(LOINC, "72514-3", {"valueInteger": 6}, rid="o2", date="2026-11-21")
    same_as_older = observation(LOCAL, "back-pain", {"valueBoolean": True}, rid="o3", date="2026-11-20")
    f = run(older, newer, same_as_older)
    assert f.obs("pain-score").value == 6 and f.obs("back-pain").value is True


# ------------------------------------------------------------------ codes that map to nothing
def test_unmapped_observation_and_condition_leave_no_trace():
    f = run(observation(LOINC, "0000-0", {"valueInteger": 1}),
            condition(SCT, "000000", rid="c9", bodySite=[{"text": "L1"}]),
            observation(LOINC, "72514-3", {"valueInteger": 2}, rid="ok"))
    assert list(f.observations) == [("pain-score", None)]
    assert f.conditions == [] and f.cancers == [] and f.events == [] and f.warnings == []


def test_unmapped_condition_that_reads_as_cancer_is_still_reported():
    res = condition(SCT, "000000", code={"coding": [{"system": SCT, "code": "000000",
                                                     "display": "Carcinoma of unknown origin"}]})
    f = run(res)
    assert [c.cancer_type for c in f.cancers] == ["unrecognised"]
    assert any("unrecognised cancer code" in w for w in f.warnings)


def test_status_filter_applies_before_the_early_skip():
    f = run(observation(LOINC, "72514-3", {"valueInteger": 2}, status="entered-in-error"),
            condition(ICD, "C50.9", verificationStatus="refuted"))
    assert f.observations == {} and f.cancers == [] and f.warnings == []


def test_event_observation_without_fact_is_kept():
    """An Observation that is only an event (chest X-ray) still records the event."""
    f = run(observation(LOINC, "36643-5", {}, status="final"))
    assert [e.kind for e in f.events] == ["chest-xray"] and f.observations == {}


# ------------------------------------------------------------------ dispatch by resourceType
@pytest.mark.parametrize("rtype", ["resource", "Foo", "observation", "Bundle"])
def test_unknown_resource_types_are_ignored_quietly(rtype):
    """Only the listed types are read (a type named like a mapper method is no exception)."""
    f = run({"resourceType": rtype, "id": "x", "code": cc(LOINC, "72514-3"), "valueInteger": 3})
    assert f.observations == {} and f.warnings == []


# ------------------------------------------------------------------ lookups built at load
def test_derived_lookups_follow_the_tables():
    term = load_terminology()
    allowed = term.allowed_codes["lesion-type"]
    assert set(term.lesion_by_points.values()) <= allowed and term.lesion_by_points
    assert "entered-in-error" in term.ignored_status["*"]
    assert all(not k.startswith("_") for k in term.ignored_status)
    assert term.code_patterns["magerl-type"].match("A1") and not term.code_patterns["magerl-type"].match("Z9")


def test_searches_are_kept():
    f = build_facts([], searches={"Observation": "failed"}, now=NOW)
    assert f.searches == {"Observation": SearchStatus.FAILED}


# ------------------------------------------------------------------ the C date parser's fast path
_digits = st.text("0123456789", min_size=2, max_size=2)
_date_shaped = st.builds(lambda y, m, d: f"{y}-{m}-{d}", st.text("0123456789", min_size=4, max_size=4),
                         _digits, _digits)
_instant_shaped = st.builds(lambda d, h, mi, s: f"{d}T{h}:{mi}:{s}Z", _date_shaped, _digits, _digits, _digits)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_date_shaped, _instant_shaped,
                 st.sampled_from(["2026-02-29", "2024-02-29", "0000-01-01", "2026-11-22T24:00:00Z",
                                  "2026-11-22T23:59:60Z", "2026-1١-22", "2026-W47-1", "2026-11-22T04:28:44+01:00",
                                  "2026-11-22T04:28:44.123Z", " 2026-11-22", "2026-11-22 04:28:44Z"])),
       st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))]))
def test_fast_date_reading_agrees_with_the_general_reading(text, tz):
    fast, general = parse_datetime(text, tz), _parse_datetime_general(text, tz)
    assert fast == general
    if fast is not None:
        assert fast[0].utcoffset() == general[0].utcoffset()


# ------------------------------------------------------------------ status codes
@pytest.mark.parametrize("value,expected", [
    ({"coding": [{"code": " Active "}]}, "active"),
    ({"coding": [{"code": ""}, {"code": "resolved"}]}, "resolved"),
    ({"coding": [{"display": "x"}, {"code": "refuted"}]}, "refuted"),
    ({"coding": [{"code": 3}]}, "3"),
    ({"coding": {"code": "active"}}, "active"),
    ({"code": "confirmed"}, "confirmed"),
    ({"coding": []}, None),
    (["inactive"], "inactive"),
    ("  Final ", "final"),
    (None, None),
])
def test_status_code_first_code_lowercased(value, expected):
    assert status_code(value) == expected


# ------------------------------------------------------------------ concepts read per request
def test_shared_concepts_keep_each_requests_own_display_and_text():
    def pain(display=None, text=None):
        code = {"coding": [{"system": LOINC, "code": "72514-3", **({"display": display} if display else {})}]}
        if text:
            code["text"] = text
        res = observation(LOINC, "72514-3", {"valueInteger": 4})
        res["code"] = code
        return res
    shown = [run(pain(*args)).obs("pain-score").sources[0].display
             for args in [("Pain", None), ("Pijn", None), (None, None), ("Pain", "NRS pijn"), ("Pain", None)]]
    assert shown == ["Pain", "Pijn", None, "NRS pijn", "Pain"]


# ------------------------------------------------------------------ body sites
def test_body_site_readings_are_independent_of_each_other():
    """Each bodySite is read on its own: the same code with another display, or the
    reading before it, never changes what the next one says."""
    from fhir_mappings.levels import body_site
    term = load_terminology()
    sites = [
        {"coding": [{"system": LOCAL, "code": "L1"}]},
        {"coding": [{"system": LOCAL, "code": "T11-L1"}], "text": "Th11 tot L1"},
        {"coding": [{"system": "urn:other", "code": "x", "display": "L4"}]},
        {"coding": [{"system": "urn:other", "code": "x", "display": "L5"}]},  # same code, other display
        {"text": "hele wervelkolom"},
    ]
    expected = [("L1",), ("T11", "T12", "L1"), ("L4",), ("L5",), ()]
    for _round in range(2):
        assert [body_site(site, term).levels for site in sites] == expected
    assert body_site(sites[4], term).whole and body_site(sites[4], term).spine


def test_level_bound_observations_read_the_same_in_a_second_request():
    res = observation(LOCAL, "sins", {"valueInteger": 9}, rid="s1")
    res["bodySite"] = {"coding": [{"system": LOCAL, "code": "T7"}]}
    cold = run(res).obs("sins", "T7")
    warm = run(res).obs("sins", "T7")
    assert cold == warm and warm.value == 9 and warm.level == "T7"
