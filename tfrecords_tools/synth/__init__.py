"""The built-in procedural generator: objects of several categories built from closed parts."""
