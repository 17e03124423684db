"""Bulk import and export of a province's institutions and practitioners as CSV.

The import streams the file through Python (per-row checks and the resident-ID hash) into a temporary staging
table with `COPY`, then checks the whole set and writes it in SQL, in one transaction: any bad row and nothing is
written. The export writes the same format back.
"""
