from catalog import views
from django.urls import path

urlpatterns = [
    path("fast/", views.fast),
    path("health/", views.fast),
    path("products/<int:pk>/report/", views.slow_report),
    path("async/<int:n>/", views.async_view),
]
