"""HTML views, one module per audience; each module owns its `urlpatterns`, which
`dashboards.urls` joins under the `dashboards` namespace."""
