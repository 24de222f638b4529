"""The child process that hands a workbook to calamine: the first sheet's rows, as pickled batches on stdout.

Run by loans/bankfiles/reader.py as a separate program, never imported by Django: it needs only the standard library
and python_calamine. The parent sets nothing; this process caps its own memory (address space) and CPU time before
it reads a byte, so a file that makes calamine reserve a huge sheet fails here, alone, and never in the web server.

    python sheet_process.py MEMORY_BYTES CPU_SECONDS  < workbook  > batches

Each batch is a list of (Excel row number, [values]) with the values already as the layouts expect them (cell_value);
converting here lets the parent clean one batch while this process reads the next. Exit code 2 with a one-line message on stderr: calamine refused the file.
"""

import io
import math
import pickle
import resource
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal

BATCH = 2000


def cell_value(value):
    """One calamine value as the layouts expect it: whole numbers as int, others as exact Decimal, "" as None."""
    if value.__class__ is str:
        return value if value else None
    if value.__class__ is float:
        if value.is_integer():
            return int(value)  # exact: a float holding a whole number converts without rounding
        if not math.isfinite(value):
            return repr(value)  # text: every column refuses it with its own message
        # The shortest text that reads back as the same float is what the cell showed; never float arithmetic.
        return Decimal(repr(value))
    if value.__class__ is int or value.__class__ is bool:
        return value
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, (time, timedelta)):
        return str(value)  # a time of day or a duration is no date or amount; the layouts refuse it as text
    return None if value is None else str(value)


def main():
    memory, cpu = int(sys.argv[1]), int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    content = sys.stdin.buffer.read()

    import python_calamine

    out = sys.stdout.buffer
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
        del content
        sheet = workbook.get_sheet_by_index(0)
        start, end = sheet.start, sheet.end
        batch = []
        count = 0
        if start is not None:
            padding = [None] * start[1]
            # This version's iter_rows starts at the sheet's row 1 (empty rows above the data included) and at the
            # data's first column; the count is checked below so that a change shows up as a refusal, never as
            # rows numbered wrong.
            for count, values in enumerate(sheet.iter_rows(), start=1):
                cells = [cell_value(value) for value in values]
                if any(cell is not None for cell in cells):
                    batch.append((count, padding + cells if padding else cells))
                    if len(batch) == BATCH:
                        pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
                        batch = []
            if count != end[0] + 1:
                sys.stderr.write(f"RowNumbering: {count} rows for a sheet ending at row {end[0] + 1}\n")
                sys.exit(4)
        if batch:
            pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        sys.stderr.write("memory\n")
        sys.exit(3)
    except Exception as error:  # calamine's refusals: CalamineError and its kinds, and a few plain ValueErrors
        sys.stderr.write(f"{type(error).__name__}: {error}"[:300].replace("\n", " ") + "\n")
        sys.exit(2)
    out.flush()


if __name__ == "__main__":
    main()
