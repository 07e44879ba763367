"""A Flask + Flask-SQLAlchemy app for the query tests: authors and their books, an N+1 view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_wpm import WPM
from tests.conftest import busy


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Author(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


def create_app(report_dir: Path, database: Path) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}",
        WPM_THRESHOLD_SECONDS=0.05,
        WPM_LOCAL_OUTPUT_DIR=str(report_dir),
        WPM_ALERT_STORE_URL="memory://",
        WPM_NOTIFY_RETRIES=0,
    )
    db.init_app(app)
    WPM(app)

    @app.get("/authors")
    def authors() -> Any:
        busy(0.06)
        books = {}
        for author in db.session.scalars(db.select(Author).order_by(Author.id)):
            books[author.name] = [book.title for book in author.books]  # N+1 line
        return jsonify(books)

    with app.app_context():
        db.create_all()
        for i in range(4):
            db.session.add(Author(name=f"author {i}", books=[Book(title=f"book {i}")]))
        db.session.commit()
    return app
