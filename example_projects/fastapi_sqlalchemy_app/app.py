"""FastAPI with an async SQLAlchemy engine (aiosqlite) watched by web-performance-monitor.

Run it:  cd example_projects/fastapi_sqlalchemy_app && uvicorn app:app
Then:    curl http://127.0.0.1:8000/authors          (slow: one query per author, awaited in turn)
         curl http://127.0.0.1:8000/authors/joined   (the fix: one query)
The report of /authors lists its queries with the line of this file that awaited each one (the
async engine's statements run on its ``sync_engine``, whose events the monitor listens to).
Configuration comes from WPM_* environment variables; the threshold defaults to 0.1 s here.
Needs: pip install 'web-performance-monitor[sqlalchemy]' fastapi uvicorn aiosqlite
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.asgi import PerformanceMiddleware

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHORS = 400  # one query each in the N+1 view

monitor = PerformanceMonitor(Config.from_env(
    threshold_seconds=float(os.environ.get("WPM_THRESHOLD_SECONDS", "0.1"))))
engine = create_async_engine("sqlite+aiosqlite:///" + os.environ.get(
    "EXAMPLE_DB", os.path.join(HERE, "example.sqlite3")))
Session = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))


async def seed(session: AsyncSession) -> None:
    if await session.scalar(select(Author.id).limit(1)) is None:
        authors = [Author(id=i + 1, name=f"author {i}") for i in range(AUTHORS)]
        session.add_all(authors)
        session.add_all(Book(title=f"book {a.id}.{j}", author_id=a.id)
                        for a in authors for j in range(3))
        await session.commit()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with Session() as session:
        await seed(session)
    yield
    await engine.dispose()
    monitor.close()


app = FastAPI(lifespan=lifespan)
app.add_middleware(PerformanceMiddleware, monitor=monitor)


@app.get("/authors")
async def authors() -> dict[str, int]:
    """N+1: the books of each author in a query of their own."""
    async with Session() as session:
        shelves = {}
        for author in await session.scalars(select(Author).order_by(Author.id)):
            books = await session.scalars(select(Book).where(Book.author_id == author.id))  # N+1
            shelves[author.name] = [book.title for book in books]
    return {"authors": len(shelves), "books": sum(map(len, shelves.values()))}


@app.get("/authors/joined")
async def authors_joined() -> dict[str, int]:
    """The fix: authors and books in one query."""
    async with Session() as session:
        rows = (await session.execute(
            select(Author.name, Book.title).join(Book, Book.author_id == Author.id))).all()
    return {"authors": len({name for name, _ in rows}), "books": len(rows)}
