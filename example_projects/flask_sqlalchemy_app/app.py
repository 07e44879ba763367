"""Flask + Flask-SQLAlchemy (SQLite) watched by web-performance-monitor: an N+1 view and its fix.

Run it:  flask --app example_projects/flask_sqlalchemy_app/app.py run
Then:    curl http://127.0.0.1:5000/authors          (slow: one query per author for the books)
         curl http://127.0.0.1:5000/authors/joined   (the fix: two queries in all)
The report of /authors lists its queries, each with the line of this file that issued it; it is
written to example_projects/flask_sqlalchemy_app/reports/ (WPM_LOCAL_OUTPUT_DIR changes it).
Needs: pip install 'web-performance-monitor[flask,sqlalchemy]' Flask-SQLAlchemy
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from flask_wpm import WPM

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHORS = 600  # one query each in the N+1 view: several times the threshold on any machine


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


def _seed() -> None:
    db.create_all()
    if db.session.scalar(select(Author.id).limit(1)) is None:
        db.session.add_all(Author(name=f"author {i}", books=[Book(title=f"book {i}.{j}")
                                                             for j in range(3)])
                           for i in range(AUTHORS))
        db.session.commit()


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.environ.get(
            "EXAMPLE_DB", os.path.join(HERE, "example.sqlite3")),
        WPM_THRESHOLD_SECONDS=0.1,
        WPM_LOCAL_OUTPUT_DIR=os.environ.get("WPM_LOCAL_OUTPUT_DIR", os.path.join(HERE, "reports")),
        WPM_ALERT_WINDOW_DAYS=1,
    )
    db.init_app(app)
    WPM(app)
    with app.app_context():
        _seed()

    @app.get("/authors")
    def authors() -> Any:
        """The classic N+1: ``author.books`` loads lazily, one SELECT per author."""
        shelves = {}
        for author in db.session.scalars(select(Author).order_by(Author.id)):
            shelves[author.name] = [book.title for book in author.books]  # N+1
        return jsonify(authors=len(shelves), books=sum(map(len, shelves.values())))

    @app.get("/authors/joined")
    def authors_joined() -> Any:
        """The fix: the books of all authors in one more query (``selectinload``)."""
        query = select(Author).options(selectinload(Author.books)).order_by(Author.id)
        shelves = {author.name: [book.title for book in author.books]
                   for author in db.session.scalars(query)}
        return jsonify(authors=len(shelves), books=sum(map(len, shelves.values())))

    return app
