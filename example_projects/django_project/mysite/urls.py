from django.urls import path

from catalog import views

urlpatterns = [
    path("fast/", views.fast),
    path("health/", views.fast),
    path("products/<int:pk>/report/", views.slow_report),
    path("async/<int:n>/", views.async_view),
]
