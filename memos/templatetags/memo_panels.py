"""The memos that other apps' pages show: a code's (its passages view, its edit page), a
document's (its page) and the project's (its page).

Template tags, so that the views of the apps below this one need not know memos exist: each
tag is an adapter like a view, which reads through memos.selectors as the request's user
(the access rule applies) and renders a fragment of memos/memo_list.html.
"""

from __future__ import annotations

from typing import Any

from django import template

from documents.models import Document, Tag
from memos import selectors

register = template.Library()


def _project_id(project: Any) -> int:
    return int(getattr(project, "pk", project))


@register.inclusion_tag("memos/memo_list.html#memo-panel", takes_context=True)
def memo_panel(
    context: template.Context,
    project: Any,
    code: Tag | None = None,
    document: Document | None = None,
) -> dict[str, Any]:
    """The memos about `code` or `document` of `project`, with the form to add one."""
    request = context["request"]
    panel = selectors.target_panel(
        user=request.user, project=_project_id(project), code=code, document=document
    )
    return {"panel": panel, "next": request.get_full_path()}


@register.inclusion_tag("memos/memo_list.html#project-memos", takes_context=True)
def project_memos(context: template.Context, project: Any) -> dict[str, Any]:
    """The project page's section: its own memos and the latest about its codes and
    documents."""
    request = context["request"]
    overview = selectors.project_overview(user=request.user, project=_project_id(project))
    return {"overview": overview, "panel": overview.panel, "next": request.get_full_path()}
