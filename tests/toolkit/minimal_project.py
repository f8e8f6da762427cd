"""A second Django project, written into a directory by the tests: nothing here is the shop's. Two apps, a
lending library: ``shelf`` (books) and ``loans`` (a loan points at a book: a foreign key across apps; and a
receiver in ``loans`` listens to the saves of ``shelf``'s books: a signal across apps)."""

from __future__ import annotations

from pathlib import Path

FILES = {
    "manage.py": '''import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "library.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
''',
    "library/__init__.py": "",
    "library/settings.py": '''import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "a-second-project-for-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "shelf", "loans", "strangler"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("LIBRARY_DB", str(BASE_DIR / "library.sqlite3"))}}
ROOT_URLCONF = "library.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
''',
    "library/urls.py": '''from django.urls import include, path

urlpatterns = [path("shelf/", include("shelf.urls")), path("loans/", include("loans.urls"))]
''',
    "shelf/__init__.py": "",
    "shelf/apps.py": '''from django.apps import AppConfig


class ShelfConfig(AppConfig):
    name = "shelf"
''',
    "shelf/models.py": '''from django.db import models
from django.utils import timezone


class Book(models.Model):
    isbn = models.CharField(max_length=13, unique=True)
    title = models.CharField(max_length=200, db_index=True)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    copies = models.PositiveIntegerField(default=1)
    added_at = models.DateTimeField(default=timezone.now)
''',
    "shelf/views.py": '''from django.http import JsonResponse
from django.views.decorators.http import require_GET

from shelf.models import Book


@require_GET
def books(request):
    return JsonResponse({"books": list(Book.objects.values("id", "isbn", "title"))})
''',
    "shelf/urls.py": '''from django.urls import path

from shelf import views

urlpatterns = [path("books/", views.books, name="books")]
''',
    "loans/__init__.py": "",
    "loans/apps.py": '''from django.apps import AppConfig


class LoansConfig(AppConfig):
    name = "loans"

    def ready(self):
        from loans import receivers  # noqa: F401
''',
    "loans/models.py": '''from django.db import models

from shelf.models import Book


class Loan(models.Model):
    book = models.ForeignKey(Book, related_name="loans", on_delete=models.PROTECT)
    borrower = models.CharField(max_length=120)
    due = models.DateField()
    returned = models.BooleanField(default=False)
''',
    "loans/receivers.py": '''from django.db.models.signals import post_save
from django.dispatch import receiver

from shelf.models import Book


@receiver(post_save, sender=Book, dispatch_uid="loans.book_saved")
def book_saved(sender, instance, created, **kwargs):
    """Loans notice new copies (a signal across apps: the inventory flags it)."""
''',
    "loans/views.py": '''from django.http import JsonResponse

from loans.models import Loan


def loans(request):
    return JsonResponse({"loans": Loan.objects.count()})
''',
    "loans/urls.py": '''from django.urls import path

from loans import views

urlpatterns = [path("", views.loans, name="loans")]
''',
    "seed.py": '''import datetime
from decimal import Decimal

from loans.models import Loan
from shelf.models import Book

for i in range(1, 31):
    book = Book.objects.create(isbn=f"97800000{i:05d}", title=f"Book {i} – ünïcode", price=Decimal(f"{i}.25"),
                               copies=i % 4)
    if i % 3 == 0:
        Loan.objects.create(book=book, borrower=f"reader {i}", due=datetime.date(2027, 1, i % 28 + 1))
''',
}


def write_project(root: Path) -> None:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
