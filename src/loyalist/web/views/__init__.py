"""One module per kind of page; each has a ``router`` serving the page and its JSON twin
(``/x`` and ``/api/x``) from the same function."""
