"""Post-mortems: drafted from an incident's journal, reviewed by people, checked for blame, rendered."""
