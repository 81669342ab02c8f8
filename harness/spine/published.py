"""The published PDS test patients, served beside the synthetic population.

NHS England's PDS FHIR API examples and sandbox use a handful of well-known test patients:
9000000009 (Jane Smith, the happy path), 9000000017 (Jayne Smyth, the fuzzy-search match),
9000000025 (Janet Smythe, a restricted record), 9000000033 (a minimal record) and
9736363120 (Kathy Knapp, the exact-match example); the published EPS prescriptions name
eleven more (:data:`EPS_SOURCE_FILES`). A published example request runs
unchanged against the reference server only if these records are the published ones, so
server and load driver share them here as an overlay: the server serves these resources for
these numbers, and the synthetic population (whose first indices derive the first four
numbers) is shadowed by them; :func:`is_published` lets the driver keep clear of them. The
module is data (the records as published), which is why it is long.

Source: NHSDigital/personal-demographics-service-api at commit
f57f5839b956fedb708555227ef2f9aefcc0cc37, ``karate-tests/src/test/java/mocks/stubs/``
(MIT licence, Crown Copyright; a copy of the files and the licence is in
tests/conformance/published/). The records are the published ones, unchanged.

The organisations the published EPS and SCR examples name (their prescribers, pharmacies and
9000000009's practice) are held here too, as :func:`published_organisations`, and merged into
the directory that server and load driver share (:func:`served_directory`), beside the
synthetic ones, so that a published example runs unchanged with a session of the organisation
it names.
"""

from __future__ import annotations

import copy
from typing import Any

from harness.spine.identifiers import mesh_mailbox_id
from harness.spine.organisations import (
    DATA_CENTRES,
    SUPPLIER_SHARE,
    WAVE_BY_TYPE,
    Directory,
    Organisation,
    OrgType,
    Region,
    build_directory,
)

STUBS = "karate-tests/src/test/java/mocks/stubs/"  # in the repository above
SOURCE_FILES = {
    "9000000009": STUBS + "patientResponses/patient_9000000009.json",
    "9000000017": STUBS + "searchResponses/search_patient_9000000017.json",
    "9000000025": STUBS + "patientResponses/patient_9000000025.json",
    "9000000033": STUBS + "patientResponses/patient_9000000033.json",
    "9736363120": STUBS + "searchResponses/knap_kathy_exact_match.json",  # entry 0
    # a record whose previous email a search finds with _history=true
    "5900020584": STUBS + "searchResponses/historic_email_searchset.json",
    # the records the sandbox's create examples match (SINGLE_MATCH, MULTIPLE_MATCHES)
    "5900054586": STUBS + "searchResponses/mock_single_searchset.json",
    "5900036502": STUBS + "searchResponses/mock_multiple_searchset.json",
    "5900053679": STUBS + "searchResponses/mock_multiple_searchset.json",  # entry 1
}
EPS_REPO = "NHSDigital/electronic-prescription-service-api@77e80e11f58013e89c6b4f1c3d767373faa8c29d"
_PRIMARY = "examples/primary-care/acute/nominated-pharmacy/medical-prescriber/"
_HOMECARE = "examples/secondary-care/homecare/acute/nominated-pharmacy/clinical-practitioner/"
_COMMUNITY = "examples/secondary-care/community/acute/"
_PRIMARY_ACUTE = "examples/primary-care/acute/"
# The patients of the published EPS prescriptions: the Patient resource of each example's
# prescription-order bundle, as published, with the id and version PDS serves it with.
EPS_SOURCE_FILES = {
    "5839945242": f"{EPS_REPO} {_PRIMARY}1-Process-Request-Send-200_OK.json",
    "9449304106": f"{EPS_REPO} {_HOMECARE}1-Process-Request-Send-200_OK.json",
    "9449303703": f"{EPS_REPO} {_COMMUNITY}nominated-pharmacy/clinical-practitioner/"
    "controlled-drugs/1-Prepare-Request-200_OK.json",
    "9449304122": f"{EPS_REPO} {_COMMUNITY}nominated-pharmacy/clinical-practitioner/"
    "1-Prepare-Request-200_OK.json",
    "9449304130": f"{EPS_REPO} {_PRIMARY_ACUTE}nominated-pharmacy/medical-prescriber/"
    "3-Process-Request-Multiple-DosageInstructions-Send_200_OK.json",
    "9449304289": f"{EPS_REPO} {_HOMECARE}2-Prepare-Request-200_OK.json",
    "9449305552": f"{EPS_REPO} {_COMMUNITY}no-nominated-pharmacy/clinical-practitioner/"
    "1-Prepare-Request-200_OK.json",
    "9449306036": f"{EPS_REPO} {_COMMUNITY}nominated-pharmacy/health-professional/"
    "controlled-drugs/1-Prepare-Request-200_OK.json",
    "9449306087": f"{EPS_REPO} {_COMMUNITY}nominated-pharmacy/nurse/"
    "prescribing-and-professional-codes/controlled-drugs/1-Prepare-Request-200_OK.json",
    "9449310394": f"{EPS_REPO} {_COMMUNITY}nominated-pharmacy/clinical-practitioner/"
    "multiple-drugs/1-Prepare-Request-200_OK.json",
    "9990548609": f"{EPS_REPO} {_PRIMARY_ACUTE}no-nominated-pharmacy/medical-prescriber/"
    "author/gmc/responsible-party/din/1-Prepare-Request-200_OK.json",
}

_PATIENTS: dict[str, dict[str, Any]] = {
    "9000000009": {
        "resourceType": "Patient",
        "id": "9000000009",
        "identifier": [
            {
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "9000000009",
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                    "code": "01",
                                    "display": "Number present and verified",
                                }
                            ]
                        },
                    }
                ],
            }
        ],
        "meta": {
            "versionId": "2",
            "security": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                    "code": "U",
                    "display": "unrestricted",
                }
            ],
        },
        "name": [
            {
                "id": "123",
                "use": "usual",
                "period": {"start": "2020-01-01", "end": "2021-12-31"},
                "given": ["Jane"],
                "family": "Smith",
                "prefix": ["Mrs"],
            }
        ],
        "gender": "female",
        "birthDate": "2010-10-22",
        "multipleBirthInteger": 1,
        "deceasedDateTime": "2010-10-22T00:00:00+00:00",
        "generalPractitioner": [
            {
                "id": "254406A3",
                "type": "Organization",
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "Y12345",
                    "period": {"start": "2020-01-01", "end": "2021-12-31"},
                },
            }
        ],
        "managingOrganization": {
            "type": "Organization",
            "identifier": {
                "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                "value": "Y12345",
                "period": {"start": "2020-01-01", "end": "2021-12-31"},
            },
        },
        "extension": [
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy",
                "valueReference": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": "Y12345",
                    }
                },
            },
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization",
                "valueReference": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": "Y23456",
                    }
                },
            },
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier",
                "valueReference": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": "Y34567",
                    }
                },
            },
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus",
                "extension": [
                    {
                        "url": "deathNotificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                                    "version": "1.0.0",
                                    "code": "2",
                                    "display": "Formal "
                                    "- "
                                    "death "
                                    "notice "
                                    "received "
                                    "from "
                                    "Registrar "
                                    "of "
                                    "Deaths",
                                }
                            ]
                        },
                    },
                    {"url": "systemEffectiveDate", "valueDateTime": "2010-10-22T00:00:00+00:00"},
                ],
            },
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
                "extension": [
                    {
                        "url": "language",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage",
                                    "version": "1.0.0",
                                    "code": "fr",
                                    "display": "French",
                                }
                            ]
                        },
                    },
                    {"url": "interpreterRequired", "valueBoolean": True},
                ],
            },
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference",
                "extension": [
                    {
                        "url": "PreferredWrittenCommunicationFormat",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat",
                                    "code": "12",
                                    "display": "Braille",
                                }
                            ]
                        },
                    },
                    {
                        "url": "PreferredContactMethod",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod",
                                    "code": "1",
                                    "display": "Letter",
                                }
                            ]
                        },
                    },
                    {"url": "PreferredContactTimes", "valueString": "Not after 7pm"},
                ],
            },
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueAddress": {
                    "city": "Manchester",
                    "district": "Greater Manchester",
                    "country": "GBR",
                },
            },
            {
                "url": "https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration",
                "extension": [
                    {
                        "url": "removalFromRegistrationCode",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.nhs.uk/CodeSystem/PDS-RemovalReasonExitCode",
                                    "code": "SCT",
                                    "display": "Transferred to Scotland",
                                }
                            ]
                        },
                    },
                    {
                        "url": "effectiveTime",
                        "valuePeriod": {
                            "start": "2020-01-01T00:00:00+00:00",
                            "end": "2021-12-31T00:00:00+00:00",
                        },
                    },
                ],
            },
        ],
        "telecom": [
            {
                "id": "789",
                "period": {"start": "2020-01-01", "end": "2021-12-31"},
                "system": "phone",
                "value": "01632960587",
                "use": "home",
            },
            {
                "id": "790",
                "period": {"start": "2019-01-01", "end": "2022-12-31"},
                "system": "email",
                "value": "jane.smith@example.com",
                "use": "home",
            },
            {
                "id": "OC789",
                "period": {"start": "2020-01-01", "end": "2021-12-31"},
                "system": "other",
                "value": "01632960587",
                "use": "home",
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-OtherContactSystem",
                        "valueCoding": {
                            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-OtherContactSystem",
                            "code": "textphone",
                            "display": "Minicom (Textphone)",
                        },
                    }
                ],
            },
        ],
        "contact": [
            {
                "id": "C123",
                "period": {"start": "2020-01-01", "end": "2021-12-31"},
                "relationship": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                "code": "C",
                                "display": "Emergency Contact",
                            }
                        ]
                    }
                ],
                "telecom": [{"system": "phone", "value": "01632960587"}],
            }
        ],
        "address": [
            {
                "id": "456",
                "period": {"start": "2020-01-01", "end": "2021-12-31"},
                "use": "home",
                "line": [
                    "1 Trevelyan Square",
                    "Boar Lane",
                    "City Centre",
                    "Leeds",
                    "West Yorkshire",
                ],
                "postalCode": "LS1 6AE",
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                        "extension": [
                            {
                                "url": "type",
                                "valueCoding": {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                    "code": "PAF",
                                },
                            },
                            {"url": "value", "valueString": "12345678"},
                        ],
                    },
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                        "extension": [
                            {
                                "url": "type",
                                "valueCoding": {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                    "code": "UPRN",
                                },
                            },
                            {"url": "value", "valueString": "123456789012"},
                        ],
                    },
                ],
            },
            {
                "id": "T456",
                "period": {"start": "2020-01-01", "end": "2021-12-31"},
                "use": "temp",
                "text": "Student Accommodation",
                "line": [
                    "1 Trevelyan Square",
                    "Boar Lane",
                    "City Centre",
                    "Leeds",
                    "West Yorkshire",
                ],
                "postalCode": "LS1 6AE",
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                        "extension": [
                            {
                                "url": "type",
                                "valueCoding": {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                    "code": "PAF",
                                },
                            },
                            {"url": "value", "valueString": "12345678"},
                        ],
                    },
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                        "extension": [
                            {
                                "url": "type",
                                "valueCoding": {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                    "code": "UPRN",
                                },
                            },
                            {"url": "value", "valueString": "123456789012"},
                        ],
                    },
                ],
            },
        ],
    },
    "9000000017": {
        "address": [
            {
                "extension": [
                    {
                        "extension": [
                            {
                                "url": "type",
                                "valueCoding": {
                                    "code": "PAF",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                },
                            },
                            {"url": "value", "valueString": "12345678"},
                        ],
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                    },
                    {
                        "extension": [
                            {
                                "url": "type",
                                "valueCoding": {
                                    "code": "UPRN",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                },
                            },
                            {"url": "value", "valueString": "123456789012"},
                        ],
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                    },
                ],
                "id": "456",
                "line": [
                    "1 Trevelyan Square",
                    "Boar Lane",
                    "City Centre",
                    "Leeds",
                    "West Yorkshire",
                ],
                "period": {"end": "2021-12-31", "start": "2020-01-01"},
                "postalCode": "LS1 6AE",
                "use": "home",
            }
        ],
        "birthDate": "2010-10-22",
        "contact": [
            {
                "id": "C123",
                "period": {"end": "2021-12-31", "start": "2020-01-01"},
                "relationship": [
                    {
                        "coding": [
                            {
                                "code": "C",
                                "display": "Emergency Contact",
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                            }
                        ]
                    }
                ],
                "telecom": [{"system": "phone", "value": "01632960587"}],
            }
        ],
        "deceasedDateTime": "2010-10-22T00:00:00+00:00",
        "extension": [
            {
                "extension": [
                    {
                        "url": "deathNotificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "2",
                                    "display": "Formal "
                                    "- "
                                    "death "
                                    "notice "
                                    "received "
                                    "from "
                                    "Registrar "
                                    "of "
                                    "Deaths",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    },
                    {"url": "systemEffectiveDate", "valueDateTime": "2010-10-22T00:00:00+00:00"},
                ],
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus",
            }
        ],
        "gender": "female",
        "generalPractitioner": [
            {
                "id": "254406A3",
                "identifier": {
                    "period": {"end": "2021-12-31", "start": "2020-01-01"},
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "Y12345",
                },
                "type": "Organization",
            }
        ],
        "id": "9000000017",
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "01",
                                    "display": "Number present and verified",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "9000000017",
            }
        ],
        "meta": {
            "security": [
                {
                    "code": "U",
                    "display": "unrestricted",
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                }
            ],
            "versionId": "2",
        },
        "multipleBirthInteger": 1,
        "name": [
            {
                "family": "Smyth",
                "given": ["Jayne"],
                "id": "123",
                "period": {"end": "2021-12-31", "start": "2020-01-01"},
                "prefix": ["Mrs"],
                "suffix": ["MBE"],
                "use": "usual",
            }
        ],
        "resourceType": "Patient",
        "telecom": [
            {
                "id": "789",
                "period": {"end": "2021-12-31", "start": "2020-01-01"},
                "system": "phone",
                "use": "home",
                "value": "01632960587",
            },
            {
                "id": "790",
                "period": {"start": "2019-01-01", "end": "2022-12-31"},
                "system": "email",
                "value": "jayne.smyth@example.com",
                "use": "home",
            },
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-OtherContactSystem",
                        "valueCoding": {
                            "code": "textphone",
                            "display": "Minicom (Textphone)",
                            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-OtherContactSystem",
                        },
                    }
                ],
                "id": "OC789",
                "period": {"end": "2021-12-31", "start": "2020-01-01"},
                "system": "other",
                "use": "home",
                "value": "01632960587",
            },
        ],
    },
    "9000000025": {
        "birthDate": "2010-10-22",
        "deceasedDateTime": "2010-10-22T00:00:00+00:00",
        "extension": [
            {
                "extension": [
                    {
                        "url": "deathNotificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "2",
                                    "display": "Formal "
                                    "- "
                                    "death "
                                    "notice "
                                    "received "
                                    "from "
                                    "Registrar "
                                    "of "
                                    "Deaths",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    },
                    {"url": "systemEffectiveDate", "valueDateTime": "2010-10-22T00:00:00+00:00"},
                ],
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus",
            }
        ],
        "gender": "female",
        "id": "9000000025",
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "01",
                                    "display": "Number present and verified",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "9000000025",
            }
        ],
        "meta": {
            "security": [
                {
                    "code": "R",
                    "display": "restricted",
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                }
            ],
            "versionId": "2",
        },
        "multipleBirthInteger": 1,
        "name": [
            {
                "family": "Smythe",
                "given": ["Janet"],
                "id": "123",
                "period": {"end": "2021-12-31", "start": "2020-01-01"},
                "prefix": ["Mrs"],
                "suffix": ["MBE"],
                "use": "usual",
            }
        ],
        "resourceType": "Patient",
    },
    "9000000033": {
        "resourceType": "Patient",
        "id": "9000000033",
        "identifier": [
            {
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "9000000033",
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                    "code": "01",
                                    "display": "Number present and verified",
                                }
                            ]
                        },
                    }
                ],
            }
        ],
        "meta": {
            "versionId": "2",
            "security": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                    "code": "U",
                    "display": "unrestricted",
                }
            ],
        },
    },
    "9736363120": {
        "address": [
            {
                "id": "QiCes",
                "line": ["44 NEWLAND AVENUE", "SCUNTHORPE"],
                "period": {"start": "1990-02-05"},
                "postalCode": "DN15 7HQ",
                "use": "home",
            }
        ],
        "birthDate": "1943-07-03",
        "gender": "female",
        "generalPractitioner": [
            {
                "id": "XFbrV",
                "identifier": {
                    "period": {"start": "1971-04-06"},
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "A20047",
                },
                "type": "Organization",
            }
        ],
        "id": "9736363120",
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "01",
                                    "display": "Number present and verified",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "9736363120",
            }
        ],
        "meta": {
            "security": [
                {
                    "code": "U",
                    "display": "unrestricted",
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                }
            ],
            "versionId": "1",
        },
        "name": [
            {
                "family": "KNAPP",
                "given": ["Kathy", "Megan"],
                "id": "znQNN",
                "period": {"start": "2005-10-30"},
                "prefix": ["MISS"],
                "use": "usual",
            }
        ],
        "resourceType": "Patient",
    },
    # EPS_SOURCE_FILES (MIT licence, Crown Copyright NHS England; copies under
    # tests/conformance/published/)
    "5839945242": {
        "resourceType": "Patient",
        "id": "5839945242",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "5839945242"}],
        "name": [
            {"use": "usual", "family": "TWITCHETT", "given": ["STACEY", "MARISA"], "prefix": ["MS"]}
        ],
        "gender": "female",
        "birthDate": "1948-04-30",
        "address": [
            {"use": "home", "line": ["10 HEATHFIELD", "COBHAM", "SURREY"], "postalCode": "KT11 2QY"}
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "A83008",
                }
            }
        ],
    },
    "9449304106": {
        "resourceType": "Patient",
        "id": "9449304106",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449304106"}],
        "name": [
            {
                "use": "usual",
                "family": "LEGASSICK",
                "given": ["NICODEMUS", "ZACKERY"],
                "prefix": ["MR"],
            }
        ],
        "gender": "male",
        "birthDate": "1994-03-19",
        "address": [
            {
                "use": "home",
                "line": ["11 LITTLEHEATH LANE", "COBHAM", "SURREY"],
                "postalCode": "KT11 2QG",
            }
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "B81001",
                }
            }
        ],
    },
    "9449303703": {
        "resourceType": "Patient",
        "id": "9449303703",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449303703"}],
        "name": [{"use": "usual", "family": "AKRASI", "given": ["ROYDON"], "prefix": ["MR"]}],
        "gender": "male",
        "birthDate": "1959-08-20",
        "address": [
            {
                "use": "home",
                "line": ["35 STEVENS LANE", "CLAYGATE", "SURREY"],
                "postalCode": "KT10 0TQ",
            }
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "B81001",
                }
            }
        ],
    },
    "9449304122": {
        "resourceType": "Patient",
        "id": "9449304122",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449304122"}],
        "name": [
            {"use": "usual", "family": "FORREST", "given": ["LILAC", "EMERSON"], "prefix": ["MS"]}
        ],
        "gender": "female",
        "birthDate": "2011-03-30",
        "address": [
            {"use": "home", "line": ["10 HAWKHURST", "COBHAM", "SURREY"], "postalCode": "KT11 2QX"}
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "B81001",
                }
            }
        ],
    },
    "9449304130": {
        "resourceType": "Patient",
        "id": "9449304130",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449304130"}],
        "name": [
            {"use": "usual", "family": "TWITCHETT", "given": ["STACEY", "MARISA"], "prefix": ["MS"]}
        ],
        "gender": "female",
        "birthDate": "1948-04-30",
        "address": [
            {"use": "home", "line": ["10 HEATHFIELD", "COBHAM", "SURREY"], "postalCode": "KT11 2QY"}
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "A83008",
                }
            }
        ],
    },
    "9449304289": {
        "resourceType": "Patient",
        "id": "9449304289",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449304289"}],
        "name": [{"use": "usual", "family": "OHIKHUARE", "given": ["COURTNEY"], "prefix": ["MS"]}],
        "gender": "female",
        "birthDate": "1987-05-01",
        "address": [
            {
                "use": "home",
                "line": ["151 TILT ROAD", "STOKE D'ABERNON", "COBHAM", "West Yorkshire"],
                "postalCode": "KT11 3HT",
            }
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "B81001",
                }
            }
        ],
    },
    "9449305552": {
        "resourceType": "Patient",
        "id": "9449305552",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449305552"}],
        "name": [{"use": "usual", "family": "DAVIS", "given": ["JANE"], "prefix": ["MRS"]}],
        "gender": "female",
        "birthDate": "1999-11-25",
        "address": [
            {
                "use": "home",
                "line": ["53 Harrogate Road", "Chapel Allerton", "Leeds"],
                "postalCode": "LS7 3PY",
            }
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "B81001",
                }
            }
        ],
    },
    "9449306036": {
        "resourceType": "Patient",
        "id": "9449306036",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449306036"}],
        "name": [{"use": "usual", "family": "ILLIDGE", "given": ["DIANN"], "prefix": ["MISS"]}],
        "gender": "female",
        "birthDate": "1996-10-15",
        "address": [
            {"use": "home", "line": ["20 POOLE ROAD", "EPSOM", "SURREY"], "postalCode": "KT19 9SH"}
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "H81109",
                }
            }
        ],
    },
    "9449306087": {
        "resourceType": "Patient",
        "id": "9449306087",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449306087"}],
        "name": [{"use": "usual", "family": "LAURENCE", "given": ["NEVILLE"], "prefix": ["MR"]}],
        "gender": "male",
        "birthDate": "1917-07-06",
        "address": [
            {
                "use": "home",
                "line": ["1 PETERSMEAD CLOSE", "TADWORTH", "SURREY"],
                "postalCode": "KT20 5AR",
            }
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "H81109",
                }
            }
        ],
    },
    "9449310394": {
        "resourceType": "Patient",
        "id": "9449310394",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9449310394"}],
        "name": [{"use": "usual", "family": "Lewington", "given": ["TRACE"], "prefix": ["MR"]}],
        "gender": "male",
        "birthDate": "1908-04-03",
        "address": [
            {
                "use": "home",
                "line": ["1 NETHERNE LANE", "COULSDON", "Surrey"],
                "postalCode": "CR5 1NR",
            }
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "B81001",
                }
            }
        ],
    },
    "9990548609": {
        "resourceType": "Patient",
        "id": "9990548609",
        "meta": {"versionId": "1"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990548609"}],
        "name": [
            {
                "use": "usual",
                "family": "XXTESTPATIENT-TGNP",
                "given": ["DONOTUSE"],
                "prefix": ["MR"],
            }
        ],
        "gender": "male",
        "birthDate": "1932-01-06",
        "address": [
            {
                "use": "home",
                "line": ["1 Trevelyan Square", "Boar Lane", "Leeds", "West Yorkshire"],
                "postalCode": "LS1 6AE",
            }
        ],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "A83008",
                }
            }
        ],
    },
    # PDS's history and create-match examples (SOURCE_FILES, entry 0 of each searchset; the two
    # McMatch-Multiple records are entries 0 and 1)
    "5900020584": {
        "address": [
            {
                "id": "151D8EFA",
                "line": ["street", "town"],
                "period": {"start": "2022-08-24"},
                "postalCode": "DN17 4AA",
                "use": "home",
            }
        ],
        "birthDate": "2000-05-05",
        "gender": "male",
        "id": "5900020584",
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "01",
                                    "display": "Number present and verified",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "5900020584",
            }
        ],
        "meta": {
            "security": [
                {
                    "code": "U",
                    "display": "unrestricted",
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                }
            ],
            "versionId": "4",
        },
        "name": [
            {
                "family": "Smith",
                "given": ["Sam", "Matt"],
                "id": "8DC3F6AC",
                "period": {"start": "2022-08-12"},
                "use": "usual",
            }
        ],
        "resourceType": "Patient",
        "telecom": [
            {
                "id": "17DACEA4",
                "period": {"start": "2022-08-11"},
                "system": "phone",
                "use": "home",
                "value": "0121000222",
            },
            {
                "id": "C2FDE019",
                "period": {"start": "2022-08-11"},
                "system": "email",
                "use": "home",
                "value": "New@new.com",
            },
        ],
    },
    "5900054586": {
        "address": [
            {
                "id": "A5ED70F0",
                "line": ["317 Stuart Streets"],
                "period": {"start": "2024-05-09"},
                "postalCode": "BAP4WG",
                "use": "home",
            }
        ],
        "birthDate": "1954-10-26",
        "gender": "male",
        "id": "5900054586",
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "01",
                                    "display": "Number present and verified",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "5900054586",
            }
        ],
        "meta": {
            "security": [
                {
                    "code": "U",
                    "display": "unrestricted",
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                }
            ],
            "versionId": "1",
        },
        "name": [
            {
                "family": "McMatch-Single",
                "given": ["Mickey"],
                "id": "978C7701",
                "period": {"start": "2024-05-09"},
                "prefix": ["Mr"],
                "use": "usual",
            }
        ],
        "resourceType": "Patient",
    },
    "5900036502": {
        "address": [
            {
                "id": "49336F4C",
                "line": ["1 Jasmine Court"],
                "period": {"start": "2024-03-15"},
                "postalCode": "DN19 7UD",
                "use": "home",
            }
        ],
        "birthDate": "1997-08-20",
        "gender": "male",
        "id": "5900036502",
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "01",
                                    "display": "Number present and verified",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "5900036502",
            }
        ],
        "meta": {
            "security": [
                {
                    "code": "U",
                    "display": "unrestricted",
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                }
            ],
            "versionId": "3",
        },
        "name": [
            {
                "family": "McMatch-Multiple",
                "given": ["Leandro", "Gerry"],
                "id": "6ABDA7E2",
                "period": {"start": "2024-03-15"},
                "use": "usual",
            }
        ],
        "resourceType": "Patient",
    },
    "5900053679": {
        "address": [
            {
                "id": "DE8E6651",
                "line": ["1 Jasmine Court"],
                "period": {"start": "2024-03-19"},
                "postalCode": "DN19 7UD",
                "use": "home",
            }
        ],
        "birthDate": "1997-08-20",
        "gender": "male",
        "id": "5900053679",
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "01",
                                    "display": "Number present and verified",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "5900053679",
            }
        ],
        "meta": {
            "security": [
                {
                    "code": "U",
                    "display": "unrestricted",
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                }
            ],
            "versionId": "1",
        },
        "name": [
            {
                "family": "McMatch-Multiple",
                "given": ["Leandro", "Gerry"],
                "id": "65D8EC67",
                "period": {"start": "1997-08-20"},
                "use": "usual",
            }
        ],
        "resourceType": "Patient",
    },
}

# The EHIC coverage 9000000009 holds in the sandbox (coverageResponses/, same commit).
COVERAGE_SOURCE = STUBS + "coverageResponses/patient_with_coverage_9000000009.json"
_COVERAGE: dict[str, list[dict[str, Any]]] = {
    "9000000009": [
        {
            "beneficiary": {"identifier": {"value": "5647382910"}, "type": "Patient"},
            "identifier": [
                {
                    "assigner": {
                        "display": "France",
                        "identifier": {"system": "urn:iso:std:iso:3166", "value": "FRA"},
                    },
                    "value": "ES456789012345",
                }
            ],
            "payor": [{"identifier": {"value": "ES11223"}}],
            "period": {"end": "2027-03-03"},
            "resourceType": "Coverage",
            "status": "active",
            "subscriber": {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/nhs-number",
                    "value": "9000000009",
                },
                "type": "Patient",
            },
        }
    ]
}

# The related persons the sandbox answers for (relatedPersonResponses/, same commit),
# as published (9000000017's names patient 5328023641, as the stub does).
RELATED_SOURCES = {
    "9000000009": STUBS + "relatedPersonResponses/related_person_9000000009.json",
    "9000000017": STUBS + "relatedPersonResponses/related_person_9000000017.json",
}
_RELATED: dict[str, list[dict[str, Any]]] = {
    "9000000009": [
        {
            "active": True,
            "address": [
                {
                    "extension": [
                        {
                            "extension": [
                                {
                                    "url": "type",
                                    "valueCoding": {
                                        "code": "PAF",
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                    },
                                },
                                {"url": "value", "valueString": "12345678"},
                            ],
                            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                        },
                        {
                            "extension": [
                                {
                                    "url": "type",
                                    "valueCoding": {
                                        "code": "UPRN",
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                    },
                                },
                                {"url": "value", "valueString": "123456789012"},
                            ],
                            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                        },
                    ],
                    "line": [
                        "1 Trevelyan Square",
                        "Boar Lane",
                        "City Centre",
                        "Leeds",
                        "West Yorkshire",
                    ],
                    "period": {"end": "2021-12-31", "start": "2020-01-01"},
                    "postalCode": "LS1 6AE",
                    "use": "home",
                }
            ],
            "extension": [
                {
                    "url": "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-CopyCorrespondenceIndicator",
                    "valueBoolean": True,
                },
                {
                    "url": "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-ContactRank",
                    "valuePositiveInt": 1,
                },
                {
                    "extension": [
                        {
                            "url": "PreferredWrittenCommunicationFormat",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "code": "12",
                                        "display": "Braille",
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat",
                                    }
                                ]
                            },
                        },
                        {
                            "url": "PreferredContactMethod",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "code": "1",
                                        "display": "Letter",
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod",
                                    }
                                ]
                            },
                        },
                        {"url": "PreferredContactTimes", "valueString": "Not after 7pm"},
                    ],
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference",
                },
                {
                    "extension": [
                        {
                            "url": "language",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "code": "fr",
                                        "display": "French",
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage",
                                        "version": "1.0.0",
                                    }
                                ]
                            },
                        },
                        {"url": "interpreterRequired", "valueBoolean": True},
                    ],
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
                },
            ],
            "id": "507B7621",
            "name": [
                {
                    "family": "Smith",
                    "given": ["Jane"],
                    "period": {"end": "2021-12-31", "start": "2020-01-01"},
                    "prefix": ["Mrs"],
                    "suffix": ["MBE"],
                    "use": "usual",
                }
            ],
            "patient": {
                "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}
            },
            "period": {"end": "2021-12-31", "start": "2020-01-01"},
            "relationship": [
                {
                    "coding": [
                        {
                            "code": "Guardian",
                            "display": "Guardian of patient",
                            "system": "https://fhir.nhs.uk/R4/CodeSystem/UKCore-AdditionalRelatedPersonRole",
                        }
                    ]
                }
            ],
            "resourceType": "RelatedPerson",
            "telecom": [
                {
                    "period": {"end": "2021-12-31", "start": "2020-01-01"},
                    "system": "phone",
                    "use": "home",
                    "value": "01632960587",
                }
            ],
        },
        {
            "active": True,
            "extension": [
                {
                    "url": "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-CopyCorrespondenceIndicator",
                    "valueBoolean": True,
                },
                {
                    "url": "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-ContactRank",
                    "valuePositiveInt": 1,
                },
                {
                    "extension": [
                        {
                            "url": "PreferredWrittenCommunicationFormat",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "code": "12",
                                        "display": "Braille",
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat",
                                    }
                                ]
                            },
                        },
                        {
                            "url": "PreferredContactMethod",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "code": "1",
                                        "display": "Letter",
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod",
                                    }
                                ]
                            },
                        },
                        {"url": "PreferredContactTimes", "valueString": "Not after 7pm"},
                    ],
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference",
                },
                {
                    "extension": [
                        {
                            "url": "language",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "code": "fr",
                                        "display": "French",
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage",
                                        "version": "1.0.0",
                                    }
                                ]
                            },
                        },
                        {"url": "interpreterRequired", "valueBoolean": True},
                    ],
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
                },
            ],
            "id": "B3380E98",
            "patient": {
                "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}
            },
            "period": {"end": "2021-12-31", "start": "2020-01-01"},
            "relationship": [
                {
                    "coding": [
                        {
                            "code": "Guardian",
                            "display": "Guardian of patient",
                            "system": "https://fhir.nhs.uk/R4/CodeSystem/UKCore-AdditionalRelatedPersonRole",
                        }
                    ]
                }
            ],
            "resourceType": "RelatedPerson",
        },
    ],
    "9000000017": [
        {
            "id": "F4CF8B96",
            "resourceType": "RelatedPerson",
            "patient": {
                "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "5328023641"}
            },
            "active": True,
            "period": {"start": "2020-01-01", "end": "2021-12-31"},
            "name": [
                {
                    "use": "usual",
                    "period": {"start": "2020-01-01", "end": "2021-12-31"},
                    "given": ["Jane"],
                    "family": "Smith",
                    "prefix": ["Mrs"],
                    "suffix": ["MBE"],
                }
            ],
            "relationship": [
                {
                    "coding": [
                        {
                            "system": "https://fhir.nhs.uk/R4/CodeSystem/UKCore-AdditionalRelatedPersonRole",
                            "code": "Guardian",
                            "display": "Guardian of patient",
                        }
                    ]
                }
            ],
            "extension": [
                {
                    "url": "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-CopyCorrespondenceIndicator",
                    "valueBoolean": True,
                },
                {
                    "url": "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-ContactRank",
                    "valuePositiveInt": 1,
                },
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference",
                    "extension": [
                        {
                            "url": "PreferredWrittenCommunicationFormat",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat",
                                        "code": "12",
                                        "display": "Braille",
                                    }
                                ]
                            },
                        },
                        {
                            "url": "PreferredContactMethod",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod",
                                        "code": "1",
                                        "display": "Letter",
                                    }
                                ]
                            },
                        },
                        {"url": "PreferredContactTimes", "valueString": "Not after 7pm"},
                    ],
                },
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
                    "extension": [
                        {
                            "url": "language",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage",
                                        "version": "1.0.0",
                                        "code": "fr",
                                        "display": "French",
                                    }
                                ]
                            },
                        },
                        {"url": "interpreterRequired", "valueBoolean": True},
                    ],
                },
            ],
            "telecom": [
                {
                    "period": {"start": "2020-01-01", "end": "2021-12-31"},
                    "system": "phone",
                    "value": "01632960587",
                    "use": "home",
                }
            ],
            "address": [
                {
                    "period": {"start": "2020-01-01", "end": "2021-12-31"},
                    "use": "home",
                    "line": [
                        "1 Trevelyan Square",
                        "Boar Lane",
                        "City Centre",
                        "Leeds",
                        "West Yorkshire",
                    ],
                    "postalCode": "LS1 6AE",
                    "extension": [
                        {
                            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                            "extension": [
                                {
                                    "url": "type",
                                    "valueCoding": {
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                        "code": "PAF",
                                    },
                                },
                                {"url": "value", "valueString": "12345678"},
                            ],
                        },
                        {
                            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                            "extension": [
                                {
                                    "url": "type",
                                    "valueCoding": {
                                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                        "code": "UPRN",
                                    },
                                },
                                {"url": "value", "valueString": "123456789012"},
                            ],
                        },
                    ],
                }
            ],
        }
    ],
}


# Emails and phones a published record had before its current ones (system, value): the sandbox
# finds 5900020584 by its previous email with _history=true and not without it
# (karate-tests/src/test/java/mocks/sandbox/get-patient-search.js, same commit).
_PREVIOUS_TELECOMS: dict[str, tuple[tuple[str, str], ...]] = {
    "5900020584": (("email", "Historic@historic.com"),),
}


def is_published(nhs_number: str) -> bool:
    """Whether nhs_number is one of the published test patients."""
    return nhs_number in _PATIENTS


def published_numbers() -> tuple[str, ...]:
    """The NHS numbers of the published test patients."""
    return tuple(_PATIENTS)


def published_patient(nhs_number: str) -> dict[str, Any]:
    """A copy of the published Patient resource (KeyError for any other number)."""
    return copy.deepcopy(_PATIENTS[nhs_number])


def published_previous_telecoms(nhs_number: str) -> tuple[tuple[str, str], ...]:
    """The (system, value) emails and phones a published patient had before (often none)."""
    return _PREVIOUS_TELECOMS.get(nhs_number, ())


def published_coverage(nhs_number: str) -> list[dict[str, Any]]:
    """Copies of the published Coverage resources the patient holds (often none)."""
    return copy.deepcopy(_COVERAGE.get(nhs_number, []))


def published_related(nhs_number: str) -> list[dict[str, Any]]:
    """Copies of the published RelatedPerson resources of a published patient."""
    return copy.deepcopy(_RELATED.get(nhs_number, []))


# The SCR the published upload replaces. SCR_REPO's UploadScrBundle.json updates 9000000009's
# SCR D18B57ED-992E-45A2-A6AF-55200D20F48E (Composition.relatesTo, "replaces"), which the
# sandbox holds and no publication shows; the server holds this minimal stand-in under that UUID
# (a GP Summary by 9000000009's practice, Y12345), so that the published update is an update.
SCR_REPO = "NHSDigital/summary-care-record-api@91bdd2813350613b5fe8f5383532954c4a5c80fd"
_SCR_STAND_IN = "D18B57ED-992E-45A2-A6AF-55200D20F48E"


def published_scrs() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(NHS number, SCR UUID, author's ODS code, document Bundle) of each SCR the published
    examples assume the service holds."""
    nhs_number, practice = "9000000009", "Y12345"
    bundle = {
        "resourceType": "Bundle",
        "id": _SCR_STAND_IN,
        "type": "document",
        "entry": [
            {
                "fullUrl": "urn:uuid:" + _SCR_STAND_IN,
                "resource": {
                    "resourceType": "Composition",
                    "id": _SCR_STAND_IN,
                    "identifier": {
                        "system": "https://tools.ietf.org/html/rfc4122",
                        "value": _SCR_STAND_IN,
                    },
                    "status": "final",
                    "type": {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "196981000000101",
                                "display": "General Practice Summary",
                            }
                        ]
                    },
                    "subject": {
                        "identifier": {
                            "system": "https://fhir.nhs.uk/Id/nhs-number",
                            "value": nhs_number,
                        }
                    },
                    "date": "2020-11-04T10:15:00+00:00",
                    "author": [
                        {
                            "identifier": {
                                "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                                "value": practice,
                            }
                        }
                    ],
                    "title": "General Practice Summary",
                },
            }
        ],
    }
    return [(nhs_number, _SCR_STAND_IN, practice, bundle)]


# ODS code -> (type, where it is published). The type is the role the example gives it.
_ORGANISATIONS: dict[str, tuple[OrgType, str]] = {
    # the prescriber (PractitionerRole.organization) of the primary-care examples
    "A83008": (OrgType.GP_PRACTICE, f"{EPS_REPO} {_PRIMARY}1-Process-Request-Send-200_OK.json"),
    # the primary-care prescription's nominated pharmacy (dispenseRequest.performer)
    "FA565": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} {_PRIMARY}1-Process-Request-Send-200_OK.json",
    ),
    # the release owner ("The Simple Pharmacy") of the examples' releases
    "VNE51": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} {_PRIMARY}1-Task-Request-Release-200_OK.json",
    ),
    # the homecare examples' nominated dispenser (dispenseRequest.performer, message sender)
    "VNCEL": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} {_HOMECARE}1-Process-Request-Dispense-200_OK.json",
    ),
    # the homecare examples' prescribing unit (partOf trust RBA; prescription A0548B-A99968-…)
    "A99968": (OrgType.TRUST, f"{EPS_REPO} {_HOMECARE}1-Process-Request-Send-200_OK.json"),
    # 9000000009's registered practice (generalPractitioner), the SCR upload example's patient
    "Y12345": (OrgType.GP_PRACTICE, SOURCE_FILES["9000000009"]),
    # the other examples' nominated pharmacies (dispenseRequest.performer) ...
    "FCG71": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} examples/primary-care/acute-and-repeat-prescribing/"
        "1-Prepare-Request-200_OK.json",
    ),
    "FER21": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} examples/secondary-care/community/repeat-dispensing/nominated-pharmacy/"
        "clinical-practitioner/single-medication-request/1-Process-Request-Send-200_OK.json",
    ),
    "FH542": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} {_COMMUNITY}no-nominated-pharmacy/clinical-practitioner/"
        "1-Prepare-Request-200_OK.json",
    ),
    "FK994": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} examples/secondary-care/homecare/acute/nominated-pharmacy/"
        "concurrent-dosage-instructions/1-Process-Request-Send-200_OK.json",
    ),
    "FL584": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} {_HOMECARE}4-Process-Request-Send-200_OK.json",
    ),
    "FY210": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} {_COMMUNITY}nominated-pharmacy/health-professional/controlled-drugs/"
        "1-Process-Request-Send-200_OK.json",
    ),
    "VN6XW": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} {_HOMECARE}3-Process-Request-Send-200_OK.json",
    ),
    "VNFKT": (
        OrgType.COMMUNITY_PHARMACY,
        f"{EPS_REPO} {_HOMECARE}2-Process-Request-Send-200_OK.json",
    ),
    # ... and the community examples' prescribing unit (PractitionerRole.organization, partOf RRE)
    "RRERP": (
        OrgType.TRUST,
        f"{EPS_REPO} {_COMMUNITY}no-nominated-pharmacy/clinical-practitioner/"
        "1-Process-Request-Send-200_OK.json",
    ),
}


def published_organisations() -> tuple[Organisation, ...]:
    """The organisations the published examples name, as directory entries.

    What the examples do not say is fixed, not drawn (assumptions): region north (the
    examples' addresses are in Leeds), the type's most common supplier, the first data centre,
    the type's migration wave and the usual MESH mailbox.
    """
    return tuple(
        Organisation(
            ods_code=code,
            org_type=org_type,
            region=Region.NORTH,
            supplier=next(iter(SUPPLIER_SHARE[org_type])),
            data_centre=DATA_CENTRES[0],
            migration_wave=WAVE_BY_TYPE[org_type],
            mesh_mailbox=mesh_mailbox_id(code),
        )
        for code, (org_type, _source) in _ORGANISATIONS.items()
    )


def published_organisation_source(ods_code: str) -> str:
    """Where the organisation is published (repository@commit and file)."""
    return _ORGANISATIONS[ods_code][1]


def with_published(directory: Directory) -> Directory:
    """The directory with the published organisations in it, as server and load driver use it.

    A published organisation shadows a synthetic one of the same ODS code (it takes its place,
    as the published PDS patients shadow the synthetic patients of their numbers); the others
    join the end of their type's group, so the directory stays grouped in :class:`OrgType`
    order and every synthetic organisation keeps its place within its type.
    """
    published = {org.ods_code: org for org in published_organisations()}
    kept = [o for o in directory if o.ods_code not in published]
    return Directory(
        tuple(
            org
            for org_type in OrgType
            for org in (
                *(o for o in kept if o.org_type is org_type),
                *(o for o in published.values() if o.org_type is org_type),
            )
        ),
        seed=directory.seed,
    )


def served_directory(count: int, seed: int) -> Directory:
    """The directory the reference server serves and the load driver drives: the synthetic
    directory of ``(count, seed)`` (:func:`~harness.spine.build_directory`) with the published
    organisations merged in (:func:`with_published`)."""
    return with_published(build_directory(count, seed))
