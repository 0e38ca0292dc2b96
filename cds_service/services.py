"""The CDS services this app offers (api-contract.md "Services")."""
from __future__ import annotations

from dataclasses import dataclass, field

P = "{{context.patientId}}"

#: prefetch key -> FHIR query template
TEMPLATES: dict[str, str] = {
    "patient": f"Patient/{P}",
    "conditions": f"Condition?patient={P}",
    "observations": f"Observation?patient={P}",
    "procedures": f"Procedure?patient={P}",
    # _include: the Medication a request or statement references (MP9 sends the product as a
    # separate Medication), in the same Bundle
    "medicationRequests": f"MedicationRequest?patient={P}&_include=MedicationRequest:medication",
    "medicationStatements": f"MedicationStatement?patient={P}&_include=MedicationStatement:medication",
    "medicationAdministrations": f"MedicationAdministration?patient={P}&_include=MedicationAdministration:medication",
    "allergies": f"AllergyIntolerance?patient={P}",
    "serviceRequests": f"ServiceRequest?patient={P}",
    "diagnosticReports": f"DiagnosticReport?patient={P}",
    # a held MDO: nl-core MultidisciplinaryTeamMeeting is an Encounter
    "encounters": f"Encounter?patient={P}",
}


def template_resource_type(template: str) -> str:
    """``Condition?patient=..`` -> ``Condition``; ``Patient/{{..}}`` -> ``Patient``."""
    head = template.split("?", 1)[0]
    return head.split("/", 1)[0]


@dataclass(frozen=True)
class ServiceDef:
    id: str
    hook: str
    title: str
    description: str
    modules: tuple[str, ...]
    topics: tuple[str, ...]
    prefetch_keys: tuple[str, ...]
    usage: str = ("Sends patient data to this service. Configure the EHR's JWT issuer in the trust file; "
                  "prefetch all templates, or grant read access to the FHIR server for the fallback.")
    extra: dict = field(default_factory=dict)

    @property
    def prefetch(self) -> dict[str, str]:
        return {k: TEMPLATES[k] for k in self.prefetch_keys}

    def discovery(self) -> dict:
        return {"hook": self.hook, "title": self.title, "description": self.description, "id": self.id,
                "prefetch": self.prefetch, "usageRequirements": self.usage}


ALL_KEYS = tuple(TEMPLATES)

SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef(
        "spine-metastases-diagnosis", "patient-view",
        "Spinal metastases: diagnosis (MRI urgency, corticosteroids, work-up)",
        "Dutch guideline on spinal metastases, flowchart DIAGNOSIS (DX-1..DX-7): how urgently to MRI the "
        "whole spine, whether to start or withhold corticosteroids, and the diagnostic work-up.",
        ("diagnosis",), ("mri-urgency", "corticosteroids", "diagnostic-workup"),
        ("patient", "conditions", "observations", "procedures", "medicationRequests", "medicationStatements",
         "medicationAdministrations", "serviceRequests", "diagnosticReports")),
    ServiceDef(
        "spine-metastases-treatment", "patient-view",
        "Spinal metastases: treatment (start window, MDO, modality, RT dose, survival)",
        "Dutch guideline on spinal metastases, flowchart TREATMENT (TX-1..TX-10): when treatment must start, "
        "who sits in the MDO, first-choice modality, radiotherapy dose, survival estimate and aftercare.",
        ("treatment",), ("treatment-window", "mdo-referral", "treatment-modality", "rt-dose",
                         "survival-estimate", "aftercare"),
        ("patient", "conditions", "observations", "procedures", "medicationRequests", "medicationStatements",
         "medicationAdministrations", "serviceRequests", "encounters")),
    ServiceDef(
        "vertebral-augmentation", "patient-view",
        "Vertebroplasty / balloon kyphoplasty: SINS, eligibility, pre-procedure checks",
        "SINS per vertebra, VP/BK eligibility (metastatic protocol VPBK-M, non-metastatic fractures VPBK-O), "
        "technique by level (VPBK-T) and what must be in order before the procedure (VPBK-P).",
        ("augmentation",), ("sins", "vpbk-eligibility", "vpbk-preprocedure"), ALL_KEYS),
    ServiceDef(
        "spine-order-select", "order-select",
        "Spine orders: MRI, VP/BK and corticosteroid order check",
        "Checks MRI, vertebroplasty/kyphoplasty and corticosteroid draft orders against the guideline: the "
        "MRI deadline and whole-spine coverage, VP/BK eligibility and preparation, corticosteroids.",
        ("diagnosis", "augmentation"), ("mri-order", "vpbk-eligibility", "vpbk-preprocedure", "corticosteroids"),
        ALL_KEYS),
    ServiceDef(
        "spine-order-sign", "order-sign",
        "Spine orders: final check at signing",
        "The same checks as the order-select service, on every draft order, when the orders are signed.",
        ("diagnosis", "augmentation"), ("mri-order", "vpbk-eligibility", "vpbk-preprocedure", "corticosteroids"),
        ALL_KEYS),
)

BY_ID = {s.id: s for s in SERVICES}

#: required context fields per hook (CDS Hooks library, hookVersion 1.0)
REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    "patient-view": ("userId", "patientId"),
    "order-select": ("userId", "patientId", "selections", "draftOrders"),
    "order-sign": ("userId", "patientId", "draftOrders"),
}
