"""The ceiling of any Django page on this machine: a bare Django project that renders 30
story cards (title, link, summary) after one query of the load database, served with the
site's own gunicorn settings. `bench.load` runs it interleaved with the site's pages and
reports each page as a ratio to it. The cards show no date on purpose: formatting 30 dates
doubles its cost (3.4 against 6.6 to 8.0 ms CPU a page in-process), and a ceiling that
low keeps the ratios honest."""
