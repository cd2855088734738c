"""The common layer: helpers every app uses and that know no app (database functions, the
API's errors, throttles, parsers and paging, the site's error pages, queueing after commit,
site-wide cached values). Nothing here imports news, privacy, accounts or recommendations."""
