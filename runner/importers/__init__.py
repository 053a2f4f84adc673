"""Importers: other tools' documents turned into fireline scenarios (`fireline import ...`)."""
