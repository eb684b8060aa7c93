"""Where data comes from: the typed source registry, downloads and the publishers' formats.

``registry`` names every dataset once (address, licence, vintage, mirror path); ``_http``
fetches them with retries, a cache and checksums; ``overpass``, ``oruk`` and ``postcodes_io``
are the online APIs; ``tables`` and ``files`` read the publishers' CSV, text, JSON and zips.
"""
