"""The bank's spreadsheets: reading them, checking them against the ledger, importing, reconciling and exporting."""
