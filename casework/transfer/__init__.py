"""Cases in and out of the store as files.

``jsonl``: every case with its full history (export, and an import that recreates the same
events); ``envelope``: an export's opening and closing lines; ``checking``: an export checked
whole before it is imported; ``nyc311``: New York City's 311 service requests as petitions
(``csv_records``: CSV records with the lines they were read from); ``importing``: what every
importer shares (its summary, the reject file); ``formats``: the registry of both;
``parallel``: an import shared by worker processes; ``files``: the one entry point, which
picks between them.
"""
