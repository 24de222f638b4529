from django.urls import path

from organizations import views

app_name = "organizations"

urlpatterns = [
    path("", views.home, name="home"),
    path("groups/grades/", views.group_grades, name="group_grades"),
    path("groups/<int:pk>/grades/", views.group_grade_history, name="group_grade_history"),
    # Supervision work (kiểm tra, giám sát, tập huấn, truyền thông, thỏa thuận, mô hình, khen thưởng).
    path("supervision/", views.supervision_summary, name="supervision_summary"),
    path("supervision/summary.xlsx", views.supervision_summary_xlsx, name="supervision_summary_xlsx"),
    path("supervision/inspections/<int:pk>/", views.inspection_detail, name="inspection_detail"),
    *[
        route
        for slug in ("inspections", "training", "outreach", "agreements", "models", "awards")
        for route in (
            path(f"supervision/{slug}/", views.supervision_list, {"kind": slug}, name=f"supervision_{slug}"),
            path(f"supervision/{slug}/new/", views.supervision_create, {"kind": slug}, name=f"supervision_{slug}_new"),
            path(
                f"supervision/{slug}/<int:pk>/edit/",
                views.supervision_edit,
                {"kind": slug},
                name=f"supervision_{slug}_edit",
            ),
        )
    ],
]

urlpatterns += [
    path("groups/", views.group_list, name="group_list"),
    path("groups/new/", views.group_create, name="group_create"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("groups/<int:pk>/edit/", views.group_update, name="group_update"),
    path("logins/", views.login_log, name="login_log"),
]
