"""One handler module per FHIR resource type (or family): each reads a resource into
the records of a :class:`~fhir_mappings.context.MappingContext`."""
