"""The capture loop in a real browser (issue 18): Debian's Chromium driven by Playwright opens
the capture app from a real card of a real ``spine-cds serve`` process (gunicorn), against the
bundled FHIR server process in open mode, answers the missing items, submits, and the server
holds the QuestionnaireResponse and Observations; the next hook call gives the refined card.

Screenshots: test-artifacts/capture-{before,form,after}.png (git-ignored); with
SPINE_CDS_UPDATE_DOCS_SCREENSHOT=1 they also replace docs/capture-*.png (the README's)."""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
import requests

from tests.support.fhir_server import fhir_server, load_bundle
from tests.support.live_server import live
from tests.support.service_process import spine_cds_process

from .support.browser import ARTIFACTS, ROOT, browser, chromium  # noqa: F401  (fixtures)
from .support.capture import RESULT, TREATMENT, patient_resources, window_card
from .support.smart_ehr import CLIENT_ID, Ehr, LaunchUser, fhir_token, sekmet  # noqa: F401  (fixture)
from .support.smart_ehr import written as smart_written

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(600)]

SECRET = "browser-test-secret-for-capture"
#: read at import: the suite's autouse fixture clears SPINE_CDS_* variables for each test
UPDATE_DOCS = os.environ.get("SPINE_CDS_UPDATE_DOCS_SCREENSHOT") == "1"


@pytest.fixture(scope="module")
def fhir_base(tmp_path_factory):
    with fhir_server(tmp_path_factory.mktemp("capture-browser-fhir")) as base:
        yield base


@pytest.fixture(scope="module")
def service(tmp_path_factory, fhir_base):
    env = {"SPINE_CDS_AUTH": "off", "SPINE_CDS_APP_SECRET": SECRET, "SPINE_CDS_APP_OPEN_SERVERS": fhir_base,
           "SPINE_CDS_LANGUAGE": "en"}
    with spine_cds_process(tmp_path_factory.mktemp("capture-service"), env=env) as base:
        yield base


def hook(service: str, fhir_base: str, pid: str) -> dict:
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": fhir_base,
            "context": {"userId": "Practitioner/dr-browser", "patientId": pid}}
    r = requests.post(f"{service}/cds-services/{TREATMENT}", json=body, headers={"Accept-Language": "en"},
                      timeout=30)
    assert r.status_code == 200, r.text
    return window_card(r.json()["cards"])


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"capture-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if UPDATE_DOCS:
        shutil.copyfile(path, ROOT / "docs" / f"capture-{name}.png")


def test_the_card_opens_the_app_and_recording_no_deficit_refines_the_card(browser, service, fhir_base):  # noqa: F811
    pid = f"browser-{uuid.uuid4().hex[:8]}"
    load_bundle(fhir_base, patient_resources(pid))
    card = hook(service, fhir_base, pid)
    assert card["extension"][RESULT]["windowHours"] == 24
    link = next(ln["url"] for ln in card["links"] if ln["type"] == "absolute" and "/app/open" in ln["url"])
    assert link.startswith(service + "/app/open?appContext=")

    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    try:
        page.goto(link)
        page.wait_for_selector("body[data-ready=true]")
        assert page.get_attribute("#card", "data-indicator") == "critical"
        assert "TX-2a" in page.text_content("#criteria")
        shot(page, "before")
        # a "yes" shows the deficit's onset and progression; "no" hides them again
        page.check('input[name="mescc-deficit"][value="true"]')
        assert page.is_visible('input[name="mescc-deficit.onset"]')
        page.check('input[name="mescc-deficit"][value="false"]')
        assert not page.is_visible('input[name="mescc-deficit.onset"]')
        assert page.locator('input[name="severe-neurological-deficit"]').count() == 0
        shot(page, "form")
        page.click("#submit")
        page.wait_for_selector("#saved")
        assert page.get_attribute("#card", "data-indicator") == "info"
        assert "TX-2d" in page.text_content("#card")
        shot(page, "after")
        assert problems == []
    finally:
        context.close()

    qrs = [e["resource"] for e in requests.get(f"{fhir_base}/QuestionnaireResponse", params={"_count": 200},
                                               timeout=10).json().get("entry", [])
           if e["resource"]["subject"]["reference"] == f"Patient/{pid}"]
    assert len(qrs) == 1 and qrs[0]["author"] == {"reference": "Practitioner/dr-browser"}
    obs = [e["resource"] for e in requests.get(f"{fhir_base}/Observation", params={"patient": pid, "_count": 200},
                                               timeout=10).json().get("entry", []) if e["resource"].get("derivedFrom")]
    assert {o["code"]["coding"][0]["code"] for o in obs} == {"mescc-deficit"}
    assert all(o["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{qrs[0]['id']}"}] for o in obs)
    after = hook(service, fhir_base, pid)
    assert after["extension"][RESULT]["windowHours"] == 336


@pytest.fixture(scope="module")
def smart_setup(tmp_path_factory, sekmet):  # noqa: F811
    """The test's EHR (authlib authorization server + FHIR in front of the SMART FHIR server) and a
    spine-cds serve process whose capture app it may launch."""
    ehr = Ehr(sekmet)
    with live(ehr.app) as ehr_base:
        ehr.base = ehr_base
        env = {"SPINE_CDS_AUTH": "off", "SPINE_CDS_APP_SECRET": SECRET, "SPINE_CDS_APP_CLIENT_ID": CLIENT_ID,
               "SPINE_CDS_APP_SMART_SERVERS": f"{ehr_base}/fhir", "SPINE_CDS_LANGUAGE": "en"}
        with spine_cds_process(tmp_path_factory.mktemp("capture-smart-service"), env=env) as base:
            ehr.redirect_uri = f"{base}/app/callback"  # the default: <base>/app/callback
            yield ehr, base


def test_smart_launch_in_the_browser_records_and_refines_the_card(browser, smart_setup, sekmet):  # noqa: F811
    ehr, service_base = smart_setup
    pid = f"browser-smart-{uuid.uuid4().hex[:8]}"
    ehr.access_token = fhir_token(sekmet, "system/*.cruds")
    load_bundle(sekmet, patient_resources(pid), token=ehr.access_token)
    card = hook_smart(service_base, ehr, pid)
    assert card["extension"][RESULT]["windowHours"] == 24
    ehr.launches["browser-launch"] = LaunchUser(pid, next(ln["appContext"] for ln in card["links"]
                                                          if ln["type"] == "smart"))
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{service_base}/app/launch?iss={ehr.base}/fhir&launch=browser-launch")
        page.wait_for_selector("body[data-ready=true]")
        assert page.url.startswith(f"{service_base}/app/callback?code=")
        assert page.get_attribute("#card", "data-indicator") == "critical"
        assert "SMART launch" in page.text_content(".context")
        page.check('input[name="mescc-deficit"][value="false"]')
        page.click("#submit")
        page.wait_for_selector("#saved")
        assert page.get_attribute("#card", "data-indicator") == "info"
    finally:
        context.close()
    assert {c for c in ehr.codes} == set(), "the authorization code was used once and deleted"
    qrs, obs = smart_written(sekmet, pid)
    assert len(qrs) == 1 and {o["code"]["coding"][0]["code"] for o in obs} == {"mescc-deficit"}
    assert hook_smart(service_base, ehr, pid)["extension"][RESULT]["windowHours"] == 336


def hook_smart(service_base: str, ehr, pid: str) -> dict:
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": f"{ehr.base}/fhir",
            "fhirAuthorization": {"access_token": ehr.access_token, "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.read", "subject": CLIENT_ID},
            "context": {"userId": "Practitioner/dr-smart", "patientId": pid}}
    r = requests.post(f"{service_base}/cds-services/{TREATMENT}", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return window_card(r.json()["cards"])
