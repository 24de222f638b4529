from django.urls import path

from organizations.views import grading, groups, home, inbox, jobs, logins, mergers, offline, pickers, supervision

app_name = "organizations"

urlpatterns = [
    path("", home.home, name="home"),
    path("manifest.webmanifest", offline.manifest, name="manifest"),
    path("sw.js", offline.service_worker, name="service_worker"),
    path("pickers/wards/", pickers.ward_options, name="picker_wards"),
    path("pickers/groups/", pickers.group_options, name="picker_groups"),
    path("inbox/", inbox.inbox_page, name="inbox"),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/<int:pk>/retry/", jobs.job_retry_view, name="job_retry"),
    path("groups/grades/", grading.group_grades, name="group_grades"),
    path("groups/<int:pk>/grades/", grading.group_grade_history, name="group_grade_history"),
    # Supervision work (kiểm tra, giám sát, tập huấn, truyền thông, thỏa thuận, mô hình, khen thưởng).
    path("supervision/", supervision.supervision_summary, name="supervision_summary"),
    path("supervision/summary.xlsx", supervision.supervision_summary_xlsx, name="supervision_summary_xlsx"),
    path("supervision/inspections/<int:pk>/", supervision.inspection_detail, name="inspection_detail"),
    *[
        route
        for slug in ("inspections", "training", "outreach", "agreements", "models", "awards")
        for route in (
            path(f"supervision/{slug}/", supervision.supervision_list, {"kind": slug}, name=f"supervision_{slug}"),
            path(
                f"supervision/{slug}/new/",
                supervision.supervision_create,
                {"kind": slug},
                name=f"supervision_{slug}_new",
            ),
            path(
                f"supervision/{slug}/<int:pk>/edit/",
                supervision.supervision_edit,
                {"kind": slug},
                name=f"supervision_{slug}_edit",
            ),
        )
    ],
]

urlpatterns += [
    path("groups/", groups.group_list, name="group_list"),
    path("groups/new/", groups.group_create, name="group_create"),
    path("groups/<int:pk>/", groups.group_detail, name="group_detail"),
    path("groups/<int:pk>/edit/", groups.group_update, name="group_update"),
    path("logins/", logins.login_log, name="login_log"),
    path("wards/merge/", mergers.ward_merge, name="ward_merge"),
]
