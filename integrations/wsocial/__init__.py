"""wSocial: FHIR R4 + SNOMED CT events to the social record, the visor and open data."""
