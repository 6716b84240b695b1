"""The in-memory adapter of the store port: the same reads and writes as MongoDB's, over
dictionaries, for unit tests of query, watch and ingest policy without servers.

Lists answer with the query specs' own predicates and orders (contracts/queries.py), the
very ones the watch matcher tests changes with; the store port's suite
(tests/services/store/port_suite.py) runs against both adapters, so what it checks holds
for MongoDB's filters and these predicates alike.
"""
