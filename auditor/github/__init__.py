"""The GitHub collection layer: authentication, an instrumented REST client and the REST collector.

Only this package (and the local/sandbox collectors) talks to GitHub. It turns a `FactPlan` into
`RepoFacts`, recording what it could not see as gaps, and counts what every run costs.
"""
