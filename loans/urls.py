from django.urls import path

from loans import views

app_name = "loans"

urlpatterns = [
    path("collections/", views.collection_sheet_list, name="collection_sheet_list"),
    path("collections/new/", views.collection_sheet_create_view, name="collection_sheet_create"),
    path("collections/<int:pk>/", views.collection_sheet_detail, name="collection_sheet_detail"),
    path("collections/<int:pk>/fill/", views.collection_sheet_fill, name="collection_sheet_fill"),
    path("collections/<int:pk>/print/", views.collection_sheet_print, name="collection_sheet_print"),
    path("collections/<int:pk>/13TD.xlsx", views.collection_sheet_xlsx, name="collection_sheet_xlsx"),
    path("collections/<int:pk>/lines/<int:line_pk>/", views.collection_line_detail, name="collection_line_detail"),
    path(
        "collections/<int:pk>/lines/<int:line_pk>/reverse/",
        views.collection_line_reverse_view,
        name="collection_line_reverse",
    ),
    path("postings/<int:pk>/reverse/", views.posting_reverse_view, name="posting_reverse"),
]
