"""`registry export`: the node's institutions and practitioners in the import's CSV format.

Rows are sorted by code; fields are quoted only where CSV needs it; lines end with LF. A practitioner is written
when a registration period is open, with its start as `registered_on`, the institutions of the open affiliations
(`|`-separated, in the order they were recorded) and, in place of the resident ID, which the node never keeps,
its keyed hash and masked form (`id_digest`, `id_masked`). Exporting what an import wrote and importing that into
an empty node gives back the same file, byte for byte.
"""

from __future__ import annotations

from typing import IO, Any

import psycopg

from registry.bulk.rows import INSTITUTION_COLUMNS, PRACTITIONER_EXPORT_COLUMNS

_INSTITUTIONS = f"""
SELECT {", ".join(INSTITUTION_COLUMNS)} FROM institutions ORDER BY code"""

_PRACTITIONERS = """
SELECT p.code, p.name, p.id_hash AS id_digest, p.id_masked, p.category, p.region_code,
       coalesce(a.codes, '') AS institution_codes, r.starts_on AS registered_on
FROM practitioners p
JOIN (SELECT DISTINCT ON (practitioner_code) practitioner_code, starts_on, ends_on
      FROM registrations ORDER BY practitioner_code, starts_on DESC) r
  ON r.practitioner_code = p.code AND r.ends_on IS NULL
LEFT JOIN (SELECT practitioner_code, string_agg(institution_code, '|' ORDER BY starts_on, id) AS codes
           FROM affiliations WHERE ends_on IS NULL GROUP BY practitioner_code) a
  ON a.practitioner_code = p.code
ORDER BY p.code"""

QUERIES = {
    "institutions": (_INSTITUTIONS, INSTITUTION_COLUMNS),
    "practitioners": (_PRACTITIONERS, PRACTITIONER_EXPORT_COLUMNS),
}


async def export(conn: psycopg.AsyncConnection[Any], what: str, out: IO[bytes]) -> int:
    """Write the header and every row to `out`; return the number of rows."""
    query, columns = QUERIES[what]
    out.write((",".join(columns) + "\n").encode())
    rows = 0
    async with conn.transaction():
        await conn.execute("SET LOCAL DateStyle = 'ISO'")
        await conn.execute("SET LOCAL work_mem = '256MB'")
        async with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
            async for row in copy:  # one row per block
                out.write(row)
                rows += 1
    return rows
