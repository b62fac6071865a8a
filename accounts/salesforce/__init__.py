"""Salesforce integration: the client (the only importer of simple_salesforce), its errors,
and a Salesforce-compatible loopback server for tests and the demo."""
