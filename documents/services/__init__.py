"""Every write to research data goes through these functions.

The web pages, the API and the management commands are thin adapters over them. Each
service validates its input, raises `ValidationError` (with a message per field where it
can) or `PermissionDenied`, changes nothing when it raises, and records an `Activity` in
the same transaction as the change (`activity.log`).

One module per domain: documents (their text and metadata), their attributes (fields the
owners define), imports (files and batches of files), annotations, the codebook, API
tokens and the versions of the lists of annotations. Callers import this package and use
the names below: `services.annotation_create(...)`.
"""

from __future__ import annotations

from .annotations import (
    CheckedSpan,
    StaleAnnotation,
    annotation_change_extent,
    annotation_create,
    annotation_delete,
    annotation_restore,
    annotation_update,
    check_span,
)
from .attributes import (
    MAX_CSV_BYTES,
    AttributeImport,
    AttributeWrite,
    attribute_create,
    attribute_delete,
    attribute_update,
    attribute_values_set,
    attributes_from_csv,
    parse_value,
)
from .codebook import codebook_import, tag_merge, tag_restore, tag_retire, tag_save, tag_set_example
from .documents import (
    MAX_DOCUMENTS_AT_ONCE,
    METADATA_FIELDS,
    DocumentMetadata,
    DuplicateDocument,
    DuplicateDocuments,
    InvalidDocuments,
    NewText,
    Upload,
    check_new_text,
    document_create,
    document_update,
    documents_create,
    importing_into,
    parse_document_type,
    parse_publication_date,
)
from .imports import (
    METADATA_FORM_FIELDS,
    ImportPreview,
    document_import,
    import_batch_confirm,
    import_batch_create,
    import_batch_step,
    import_item_choose,
    import_preview,
)
from .tokens import API_TOKEN_PREFIX, api_token_create, api_token_hash, api_token_revoke
from .versions import (
    document_list_changed,
    documents_list_changed,
    shared_list_changed,
    user_renamed,
    user_renaming,
)

__all__ = [
    "API_TOKEN_PREFIX",
    "MAX_CSV_BYTES",
    "MAX_DOCUMENTS_AT_ONCE",
    "METADATA_FIELDS",
    "METADATA_FORM_FIELDS",
    "AttributeImport",
    "AttributeWrite",
    "CheckedSpan",
    "DocumentMetadata",
    "DuplicateDocument",
    "DuplicateDocuments",
    "ImportPreview",
    "InvalidDocuments",
    "NewText",
    "StaleAnnotation",
    "Upload",
    "annotation_create",
    "annotation_delete",
    "annotation_change_extent",
    "annotation_restore",
    "annotation_update",
    "api_token_create",
    "api_token_hash",
    "api_token_revoke",
    "attribute_create",
    "attribute_delete",
    "attribute_update",
    "attribute_values_set",
    "attributes_from_csv",
    "check_new_text",
    "check_span",
    "codebook_import",
    "document_create",
    "document_import",
    "document_list_changed",
    "documents_list_changed",
    "document_update",
    "documents_create",
    "importing_into",
    "import_batch_confirm",
    "import_batch_create",
    "import_batch_step",
    "import_item_choose",
    "import_preview",
    "parse_document_type",
    "parse_publication_date",
    "parse_value",
    "shared_list_changed",
    "tag_merge",
    "tag_restore",
    "tag_retire",
    "tag_save",
    "tag_set_example",
    "user_renamed",
    "user_renaming",
]
