"""Live queries: watches of list and get queries, pushed a new result when it changes."""
