"""The domain: the rules of charge points, transactions, idTags and commands, in the spec's concepts and
whatever protocol or interface asks. Imports the spec layer, the models and the extensions, never an edge."""
