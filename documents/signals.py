"""What the services must hear of however it is made: a change to the codebook or to a
user's name changes what every document's list of annotations shows (the Django admin and
the auth forms save these models themselves)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_save

from . import services
from .models import Tag


def _tag_changed(sender: Any, **kwargs: Any) -> None:
    services.shared_list_changed()


def _remember_username(
    sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any
) -> None:
    # Logging in saves only last_login: no query then.
    if instance.pk is None or (update_fields is not None and "username" not in update_fields):
        instance._username_before = None
        return
    found = sender.objects.filter(pk=instance.pk).values_list("username", flat=True)
    instance._username_before = next(iter(found), None)
    if instance._username_before not in (None, instance.get_username()):
        services.user_renaming(instance)


def _user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_username_before", None)
    if before is not None and before != instance.get_username():
        services.user_renamed(instance)


def _user_deleted(sender: Any, **kwargs: Any) -> None:
    services.shared_list_changed()


def connect() -> None:
    user_model = get_user_model()
    post_save.connect(_tag_changed, sender=Tag, dispatch_uid="tag_saved")
    post_delete.connect(_tag_changed, sender=Tag, dispatch_uid="tag_deleted")
    pre_save.connect(_remember_username, sender=user_model, dispatch_uid="user_saving")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="user_deleted")
