-- The connector's whole validated definition (docs/catalog.md) as JSON, so
-- executors read one document for built-in and custom connectors alike.
ALTER TABLE connectors ADD COLUMN definition TEXT;
