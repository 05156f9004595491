"""The Django admin for the corpus, the codebook and the record of changes.

Changes made here go through the same services as the app, so they are validated the same
way and logged in the activity record.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from accounts import mfa
from accounts.models import AccessEvent
from accounts.services import access_event
from projects.models import Action, Membership, Project
from sco_annotate.admin_refusals import ServiceRefusals

from . import selectors, services
from .models import (
    Activity,
    Annotation,
    ApiToken,
    Document,
    ImportBatch,
    ImportItem,
    SourceFile,
    Tag,
)

_METADATA_FIELDS = services.METADATA_FIELDS


class ShownOnly:
    """An admin or inline that shows rows and never adds or changes them, and deletes them
    only where `deletable` says so: the record of research is changed through the services.
    The one place these rights are written."""

    can_delete = False
    extra = 0
    deletable = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)  # type: ignore[misc]


class SourceFileInline(ShownOnly, admin.StackedInline):
    """The original file is evidence: shown, never replaced."""

    model = SourceFile
    fields = ("filename", "content_type", "size", "sha256")
    readonly_fields = ("filename", "content_type", "size", "sha256")


class DocumentAdminForm(forms.ModelForm):
    # A source URL typed without a scheme is taken as https (Django 6's default).
    source_url = forms.URLField(
        label="Source URL", max_length=2000, required=False, assume_scheme="https"
    )
    # Kept exactly as pasted: stripping would change the text and every offset into it.
    text = forms.CharField(widget=forms.Textarea, strip=False)

    class Meta:
        model = Document
        fields = ["project", *_METADATA_FIELDS, "text"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        project = cleaned.get("project") or getattr(self.instance, "project", None)
        if "text" in cleaned and project is not None:
            try:
                cleaned["text"] = services.check_new_text(
                    cleaned["text"], project=project, document_pk=self.instance.pk
                )
            except ValidationError as exc:
                self.add_error("text", exc.messages)
        return cleaned


@admin.register(Document)
class DocumentAdmin(ServiceRefusals, admin.ModelAdmin):
    list_display = ["title", "organisation", "published_display", "language", "document_type"]
    list_filter = ["document_type", "language", "date_precision", "organisation"]
    search_fields = ["title", "organisation", "author", "source_url", "sha256"]
    date_hierarchy = "published"
    form = DocumentAdminForm
    inlines = [SourceFileInline]
    readonly_fields = [
        "length",
        "sha256",
        "imported_by",
        "imported_at",
        "updated_at",
        "import_report",
    ]
    fieldsets = [
        (None, {"fields": ["project", *_METADATA_FIELDS]}),
        ("Text", {"fields": ["text", "length", "sha256", "page_breaks"]}),
        ("Provenance", {"fields": ["imported_by", "imported_at", "updated_at", "import_report"]}),
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Document | None = None) -> bool:
        # Documents are evidence, and deleting one would take its annotations with it,
        # outside the activity record.
        return False

    @admin.display(description="published", ordering="published")
    def published_display(self, obj: Document) -> str:
        return obj.published_display

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        return Document.objects.visible_to(request.user).without_text()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "project":
            kwargs["queryset"] = _projects_for(request, Action.IMPORT)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Document | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("project")  # a document stays in its project
        if obj is not None and obj.annotations.exists():
            # Offsets of existing annotations point into this exact text.
            fields.append("text")
        return fields

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        user = request.user
        assert user.is_authenticated
        if change:
            # The form has already written its values onto obj; the service compares
            # against the stored document to log what changed.
            stored = Document.objects.get(pk=obj.pk)
            changed = {name: form.cleaned_data[name] for name in form.changed_data}
            services.document_update(user=user, document=stored, **changed)
        else:
            created = services.document_create(
                user=user,
                project=form.cleaned_data["project"],
                text=form.cleaned_data["text"],
                metadata=services.DocumentMetadata.from_mapping(
                    {
                        name: form.cleaned_data.get(name)
                        for name in _METADATA_FIELDS
                        if isinstance(name, str)
                    }
                ),
            )
            obj.pk = created.pk


def _projects_for(request: HttpRequest, action: str) -> QuerySet[Project]:
    """The projects in which the admin user may do `action`: what they may choose."""
    allowed = Membership.objects.allowed(request.user, action).values("project_id")
    return Project.objects.filter(pk__in=allowed)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "project",
        "swatch",
        "parent",
        "shortcut",
        "is_active",
        "sort_order",
    ]
    list_select_related = ["parent", "project"]
    list_editable = ["sort_order", "is_active"]
    list_filter = ["project", "is_active"]
    search_fields = ["name", "slug", "definition", "inclusion", "exclusion"]
    # The example by id: a list of every passage would be long, and would show the
    # passages of projects the admin user is not in. A merge is made on the codebook page.
    raw_id_fields = ["example"]
    readonly_fields = ["merged_into", "uuid"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        # The codebooks the admin user may change (as an owner of their projects).
        return (
            super()
            .get_queryset(request)
            .filter(project__in=_projects_for(request, Action.CODEBOOK))
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "project":
            kwargs["queryset"] = _projects_for(request, Action.CODEBOOK)
        if db_field.name == "parent":
            kwargs["queryset"] = Tag.objects.visible_to(request.user, Action.CODEBOOK)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_prepopulated_fields(
        self, request: HttpRequest, obj: Tag | None = None
    ) -> dict[str, Any]:
        # The slug is filled from the name only while it can still be set: a read-only
        # prepopulated field breaks the change page.
        return {"slug": ["name"]} if obj is None else {}

    @admin.display(description="colour")
    def swatch(self, obj: Tag) -> str:
        return format_html(
            '<span style="display:inline-block;width:2em;background:{}">&nbsp;</span> {}',
            obj.colour,
            obj.colour,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Tag | None = None) -> list[str]:
        # The slug identifies the tag for API clients and exports: fixed once created; a
        # code stays in its project.
        return ["slug", "project"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Tag, form: Any, change: bool) -> None:
        services.tag_save(user=request.user, tag=obj)  # type: ignore[arg-type]

    def has_delete_permission(self, request: HttpRequest, obj: Tag | None = None) -> bool:
        # Retire a tag (active off) instead: deleting it would strip it from coded passages.
        return False


@admin.register(Annotation)
class AnnotationAdmin(ShownOnly, admin.ModelAdmin):
    list_display = ["__str__", "document", "author", "updated", "version", "deleted_at"]
    list_filter = ["tags", "author", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["quote", "note", "document__title", "author__username"]
    list_select_related = ["document", "author"]
    raw_id_fields = ["document"]
    actions = ["soft_delete"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Annotation]:
        return (
            Annotation.objects.visible_to(request.user)
            .select_related("document", "author")
            .defer("document__text")
        )

    @admin.action(description="Delete the selected annotations (kept as deleted)")
    def soft_delete(self, request: HttpRequest, queryset: QuerySet[Annotation]) -> None:
        try:
            # All or none: a refusal part-way leaves every selected annotation as it was.
            with transaction.atomic():
                # In document and id order: each delete locks its annotation and its
                # document's row (its list's version): two such runs take them in one order.
                annotations = list(queryset.prefetch_related("tags").order_by("document_id", "pk"))
                for annotation in annotations:
                    services.annotation_delete(user=request.user, annotation=annotation)  # type: ignore[arg-type]
        except (ValidationError, PermissionDenied) as exc:
            messages_ = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            self.message_user(
                request, "Nothing was deleted: " + " ".join(messages_), level=messages.ERROR
            )
            return
        self.message_user(request, f"Deleted {len(annotations)} annotations.")


@admin.register(Activity)
class ActivityAdmin(ShownOnly, admin.ModelAdmin):
    list_display = ["created", "actor", "action", "object_type", "object_id", "document"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor__username", "action"]
    date_hierarchy = "created"
    list_select_related = ["actor", "document"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Activity]:
        # What changed in a document is research data: shown to the members of its
        # project; the rest (codebooks, memberships, tokens) to site administrators.
        visible = Document.objects.visible_to(request.user).values("pk")
        return (
            super()
            .get_queryset(request)
            .filter(Q(document__isnull=True) | Q(document__in=visible))
            .defer("document__text")
        )


def _token_event(request: HttpRequest | None, kind: str, token: ApiToken) -> None:
    """The access log's record of a token made or revoked (who by is the request's user)."""
    detail = {
        "token": token.prefix,
        "owner": token.user.get_username(),
        "issued_with_mfa": token.issued_with_mfa,
    }
    access_event(kind=kind, request=request, detail=detail)


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceRefusals, admin.ModelAdmin):
    """Create tokens (the plain token is shown once, on the next page) and revoke them."""

    list_display = [
        "__str__",
        "name",
        "user",
        "read_only",
        "issued_with_mfa",
        "created",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["read_only", "issued_with_mfa", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("user", "name", "read_only", "projects")
        return (
            "user",
            "name",
            "prefix",
            "read_only",
            "projects",
            "issued_with_mfa",
            "created",
            "last_used_at",
            "revoked_at",
        )

    def get_readonly_fields(
        self, request: HttpRequest, obj: ApiToken | None = None
    ) -> tuple[str, ...]:
        return () if obj is None else self.get_fields(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A token is never edited: revoke it and create another.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoked tokens stay, so the activity record keeps pointing at something.
        return False

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        token, plain = services.api_token_create(
            actor=request.user,  # type: ignore[arg-type]
            user=obj.user,
            name=obj.name,
            read_only=obj.read_only,
            projects=[project.pk for project in form.cleaned_data.get("projects", [])],
            # Whoever makes it here stands in for its second factor: their session's.
            issued_with_mfa=mfa.is_verified(request.session),
        )
        obj.pk, obj.prefix, obj.created = token.pk, token.prefix, token.created
        _token_event(request, AccessEvent.Kind.TOKEN_CREATED, token)
        note = selectors.token_unreached_note(token)
        if note:
            self.message_user(request, note, level=messages.WARNING)
        # For response_add, the next step of this same request.
        setattr(request, "_api_token_plain", plain)  # noqa: B010

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service has set the token's projects already.
        return None

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Shown in this response only: never put in a message, a cookie or the session.
        plain = getattr(request, "_api_token_plain")  # noqa: B009
        response = TemplateResponse(
            request,
            "admin/documents/apitoken/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "API token created",
                "token": plain,
                "token_object": obj,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            services.api_token_revoke(actor=request.user, token=token)  # type: ignore[arg-type]
            _token_event(request, AccessEvent.Kind.TOKEN_REVOKED, token)
        self.message_user(request, f"Revoked {len(tokens)} tokens.")


class ImportItemInline(ShownOnly, admin.TabularInline):
    model = ImportItem
    fields = ("position", "filename", "size", "status", "error", "document", "duplicate_of")
    readonly_fields = fields


@admin.register(ImportBatch)
class ImportBatchAdmin(ShownOnly, admin.ModelAdmin):
    """Batches from the import pages. Deleting one frees the files it still holds (those left
    out or not yet imported); imported documents keep their own copy of their file."""

    list_display = ["__str__", "project", "created", "created_by", "confirmed_at"]
    list_select_related = ["created_by", "project"]
    date_hierarchy = "created"
    inlines = [ImportItemInline]
    deletable = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportBatch]:
        # The files of a batch are research data of its project.
        return (
            super().get_queryset(request).filter(project__in=_projects_for(request, Action.IMPORT))
        )
