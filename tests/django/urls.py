from django.urls import include, path

from tests.django import query_views, views

api = [path("users/<int:uid>/", views.user)]

urlpatterns = [
    path("fast/", views.fast),
    path("users/<int:uid>/", views.user),
    path("async-users/<int:uid>/", views.async_user),
    path("api/", include(api)),
    path("echo/body/", views.echo_body),
    path("echo/form/", views.echo_form),
    path("stream/", views.stream),
    path("boom/", views.boom),
    path("helper/", views.uses_helper),
    path("crunch/", views.crunch),
    path("queries/n-plus-one/", query_views.n_plus_one),
    path("queries/many/", query_views.executemany),
    path("queries/failing/", query_views.failing),
    path("queries/other/", query_views.other_database),
    path("queries/async/", query_views.async_orm),
]
