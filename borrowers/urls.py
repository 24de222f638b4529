from django.urls import path

from borrowers import views

app_name = "borrowers"

urlpatterns = [
    path("", views.household_list, name="household_list"),
    path("new/", views.household_create, name="household_create"),
    path("<int:pk>/", views.household_detail, name="household_detail"),
    path("<int:pk>/edit/", views.household_update, name="household_update"),
    path("<int:pk>/move/", views.household_move, name="household_move"),
]
