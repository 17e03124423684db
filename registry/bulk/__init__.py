"""Bulk import and export of a province's institutions and practitioners as CSV.

Each row of an import becomes the command and the fact a registration through the API would make. The facts are
logged and sealed into the node's feed like any other (peers pull them), and the rows are written set-wise from
a temporary staging table filled with `COPY`, exactly as the store functions write them, in one transaction: any
bad row and nothing is written. The export writes the same format back.
"""
