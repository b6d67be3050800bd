"""Catalogue photos named by URL, fetched into the workspace's image store: an address
guard (``guard``), the revalidation cache (``cache``) and the bounded fetcher (``fetch``)."""
