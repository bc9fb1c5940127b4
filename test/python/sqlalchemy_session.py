"""Plays the Python Agents SDK's SQLAlchemySession against a database, for the compat tests.

The SDK itself cannot be installed here, so this script declares the same two tables with
SQLAlchemy Core (the column types, defaults, foreign key and index SQLAlchemySession declares)
and issues the same kinds of statements through an async engine: create_all; add = make sure the
session row exists, bulk-insert the messages, touch updated_at, in one transaction; get = ORDER BY
created_at, id (newest N through DESC + LIMIT, then reversed); pop = delete the newest row; clear.

Usage: sqlalchemy_session.py URL SESSIONS_TABLE MESSAGES_TABLE COMMAND SESSION_ID [JSON]
Prints the result as JSON on stdout.
"""

import asyncio
import json
import sys

from sqlalchemy import (
    TIMESTAMP,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

SESSION_ID = String().with_variant(String(190, collation="utf8mb4_bin"), "mysql")


def declare(sessions_name, messages_name):
    metadata = MetaData()
    sessions = Table(
        sessions_name,
        metadata,
        Column("session_id", SESSION_ID, primary_key=True),
        Column("created_at", TIMESTAMP(timezone=False), server_default=text("CURRENT_TIMESTAMP"), nullable=False),
        Column(
            "updated_at",
            TIMESTAMP(timezone=False),
            server_default=text("CURRENT_TIMESTAMP"),
            onupdate=text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
    )
    messages = Table(
        messages_name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("session_id", SESSION_ID, ForeignKey(f"{sessions_name}.session_id", ondelete="CASCADE"), nullable=False),
        Column("message_data", Text, nullable=False),
        Column("created_at", TIMESTAMP(timezone=False), server_default=text("CURRENT_TIMESTAMP"), nullable=False),
        Index(f"idx_{messages_name}_session_time", "session_id", "created_at"),
        sqlite_autoincrement=True,
    )
    return metadata, sessions, messages


async def main(url, sessions_name, messages_name, command, session_id, argument):
    metadata, sessions, messages = declare(sessions_name, messages_name)
    engine = create_async_engine(url)
    try:
        if command == "create":
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            return None
        if command == "add":
            items = json.loads(argument)
            async with engine.begin() as conn:
                found = await conn.execute(select(sessions.c.session_id).where(sessions.c.session_id == session_id))
                if found.scalar_one_or_none() is None:
                    try:
                        async with conn.begin_nested():
                            await conn.execute(insert(sessions).values(session_id=session_id))
                    except IntegrityError:
                        pass
                await conn.execute(
                    insert(messages),
                    [
                        {"session_id": session_id, "message_data": json.dumps(item, separators=(",", ":"))}
                        for item in items
                    ],
                )
                await conn.execute(
                    update(sessions)
                    .where(sessions.c.session_id == session_id)
                    .values(updated_at=text("CURRENT_TIMESTAMP"))
                )
            return None
        if command == "get":
            limit = None if argument is None else int(argument)
            async with engine.connect() as conn:
                if limit is None:
                    rows = await conn.execute(
                        select(messages.c.message_data)
                        .where(messages.c.session_id == session_id)
                        .order_by(messages.c.created_at.asc(), messages.c.id.asc())
                    )
                    return [json.loads(row[0]) for row in rows.all()]
                rows = await conn.execute(
                    select(messages.c.message_data)
                    .where(messages.c.session_id == session_id)
                    .order_by(messages.c.created_at.desc(), messages.c.id.desc())
                    .limit(limit)
                )
                return [json.loads(row[0]) for row in rows.all()][::-1]
        if command == "pop":
            async with engine.begin() as conn:
                newest = await conn.execute(
                    select(messages.c.id, messages.c.message_data)
                    .where(messages.c.session_id == session_id)
                    .order_by(messages.c.created_at.desc(), messages.c.id.desc())
                    .limit(1)
                    .with_for_update()
                )
                row = newest.one_or_none()
                if row is None:
                    return None
                await conn.execute(delete(messages).where(messages.c.id == row[0]))
                return json.loads(row[1])
        if command == "clear":
            async with engine.begin() as conn:
                await conn.execute(delete(messages).where(messages.c.session_id == session_id))
                await conn.execute(delete(sessions).where(sessions.c.session_id == session_id))
            return None
        raise SystemExit(f"unknown command {command}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    url, sessions_name, messages_name, command, session_id = sys.argv[1:6]
    argument = sys.argv[6] if len(sys.argv) > 6 else None
    print(json.dumps(asyncio.run(main(url, sessions_name, messages_name, command, session_id, argument))))
