"""``ttom memory …`` and ``ttom bench memory``: inspect and manage the parameter memory.

Only typer and rich are imported here; the store (SQLAlchemy, numpy) loads inside the commands.
Every command takes ``--json`` for scripts; the database is the settings' (``TTOM_DATABASE_URL``,
else SQLite in the cache dir) unless ``ttom memory --db URL`` names another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ttom.cli.options import JSON_OPT

app = typer.Typer(help="Inspect and manage the parameter memory (adapters φ* learned on earlier scenes).",
                  no_args_is_help=True)
console = Console()

_db_url: str | None = None



@app.callback()
def _memory(db: str = typer.Option(None, "--db", help="SQLAlchemy URL of the memory database "
                                   "(default: TTOM_DATABASE_URL, else SQLite in the cache dir).")) -> None:
    global _db_url
    _db_url = db


def _store():
    from ttom.memory.store import MemoryStore

    return MemoryStore(_db_url)


def _echo_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def _when(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else "-"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _quality(q) -> str:
    return "-" if q is None else f"{q:.3f}"


def ls(
    limit: int = typer.Option(50, "--limit", "-n", help="Show at most this many entries (0 = all)."),
    sort: str = typer.Option("recent", "--sort", help="recent | uses | quality | created | lfu (next to be evicted first)."),
    as_json: bool = JSON_OPT,
) -> None:
    """List entries."""
    if sort not in ("recent", "uses", "quality", "created", "lfu"):
        raise typer.BadParameter(f"--sort must be recent, uses, quality, created or lfu, not {sort!r}")
    with _store() as store:
        entries, unreadable = store.scan(sort, limit or None)
        total = store.count()
    for p in unreadable:  # stderr: --json output stays parseable
        typer.echo(f"skipped {p.entry_id}: {p.problem} (remove with `ttom memory prune --invalid`)", err=True)
    if as_json:
        _echo_json([e.to_dict() for e in entries])
        return
    table = Table(title=f"memory: {len(entries)} of {total} entries (sorted by {sort})")
    table.add_column("id", no_wrap=True)
    table.add_column("key", overflow="fold", ratio=1, min_width=30)
    for col in ("model", "quality", "uses", "last used", "φ"):
        table.add_column(col, no_wrap=True, overflow="ellipsis")
    for e in entries:
        model = str(e.signature.get("model_id") or e.signature.get("backend") or e.signature_hash[:12])
        # Keys hold "[left left left]": escape, or rich reads it as markup and drops it.
        table.add_row(e.id[:8], escape(e.key_text), escape(model[-24:]), _quality(e.quality), str(e.use_count),
                      _when(e.last_used_at), _size(e.phi_nbytes))
    console.print(table)


def show(entry_id: str = typer.Argument(..., help="Entry id or a unique prefix (4+ characters)."),
         as_json: bool = JSON_OPT) -> None:
    """Show one entry: key, adapter signature, counts, and φ's tensors (checked)."""
    from ttom.memory.errors import CorruptEntryError
    from ttom.memory.phi import inspect_phi

    with _store() as store:
        full = store.resolve_id(entry_id)
        entry = store.get(full)
        try:
            info = inspect_phi(store.load_phi(full))
            tensors = [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)} for t in info.tensors]
            phi_problem = None
        except CorruptEntryError as e:
            tensors, phi_problem = [], e.problem
    if as_json:
        _echo_json({**entry.to_dict(), "tensors": tensors, "phi_problem": phi_problem})
    else:
        table = Table(show_header=False, title=f"memory entry {entry.id}")
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for k, v in [("key", escape(entry.key_text)), ("signature", escape(json.dumps(entry.signature, sort_keys=True))),
                     ("quality", _quality(entry.quality)), ("uses", str(entry.use_count)),
                     ("created", _when(entry.created_at)), ("updated", _when(entry.updated_at)),
                     ("last used", _when(entry.last_used_at)), ("embedder", f"{entry.embedder} ({entry.dim}-d)"),
                     ("φ", f"{_size(entry.phi_nbytes)}, {len(tensors)} tensors, sha256 {entry.phi_sha256[:16]}…"),
                     ("layout", _scene(entry.scene))]:
            table.add_row(k, v)
        if phi_problem:
            table.add_row("[red]φ problem[/red]", f"[red]{escape(phi_problem)}[/red]")
        console.print(table)
        if tensors:
            shown = tensors[:8]
            console.print("  " + "\n  ".join(escape(f"{t['name']}  {t['dtype']} {t['shape']}") for t in shown)
                          + (f"\n  … {len(tensors) - len(shown)} more" if len(tensors) > len(shown) else ""))
    if phi_problem:
        raise typer.Exit(1)


def _scene(scene: dict | None) -> str:
    """The layout an entry was learned on, in one line: its prompt and objects (recall compares its structure
    and geometry); an entry stored without one is a warm start only."""
    if not isinstance(scene, dict) or not isinstance(scene.get("layout"), dict):
        return "none (stored before layouts were kept: recalled as a warm start only, for the same key text)"
    lay = scene["layout"]
    objects = lay.get("objects") or []
    names = ", ".join(str(o.get("phrase") or o.get("name")) for o in objects[:6] if isinstance(o, dict))
    more = f" … {len(objects) - 6} more" if len(objects) > 6 else ""
    return escape(f"{str(lay.get('prompt'))[:120]!r}: {len(objects)} object(s): {names}{more}")


def rm(entry_ids: Annotated[list[str], typer.Argument(help="Entry ids or unique prefixes.")],
       as_json: bool = JSON_OPT) -> None:
    """Delete entries."""
    with _store() as store:
        full = [store.resolve_id(e) for e in entry_ids]  # all resolved before anything is deleted
        removed = [e for e in full if store.delete(e)]
    if as_json:
        _echo_json({"removed": removed})
    else:
        for e in removed:
            console.print(f"removed {e}")


def prune(
    capacity: int = typer.Option(None, "--capacity", help="Evict (LFU) down to this many entries (default: TTOM_MEMORY_CAPACITY)."),
    invalid: bool = typer.Option(False, "--invalid", help="Also remove entries whose φ or key fails its checks."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
    as_json: bool = JSON_OPT,
) -> None:
    """Evict least-frequently-used entries beyond capacity (and, with --invalid, damaged ones)."""
    with _store() as store:
        res = store.prune(capacity, invalid=invalid, dry_run=dry_run)
    if as_json:
        _echo_json(res.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    for p in res.invalid:
        console.print(f"{verb} {p.entry_id}: {escape(p.problem)}")
    for e in res.evicted:
        console.print(f"{verb} {e} (least frequently used)")
    console.print(f"{verb} {len(res.evicted)} entr{'y' if len(res.evicted) == 1 else 'ies'} by LFU eviction"
                  + (f", {len(res.invalid)} invalid" if invalid else ""))


def stats(as_json: bool = JSON_OPT) -> None:
    """Size, capacity, uses and adapter signatures of the memory."""
    with _store() as store:
        st = store.stats()
    if as_json:
        _echo_json(st.to_dict())
        return
    table = Table(show_header=False, title="memory")
    table.add_column(style="bold")
    table.add_column()
    for k, v in [("database", escape(st.url)), ("schema version", str(st.schema_version)),
                 ("entries", f"{st.entries} / {st.capacity}"), ("φ bytes", _size(st.phi_bytes)),
                 ("uses", str(st.total_uses)),
                 ("inserted / deleted / evicted", f"{st.inserted_total} / {st.deleted_total} / {st.evicted_total}"),
                 ("oldest / newest", f"{_when(st.oldest)} / {_when(st.newest)}")]:
        table.add_row(k, v)
    console.print(table)
    if st.signatures:
        sig = Table(title="adapter signatures")
        for col in ("hash", "signature", "entries"):
            sig.add_column(col)
        for g in st.signatures:
            sig.add_row(g["signature_hash"][:12], escape(g["label"]), str(g["entries"]))
        console.print(sig)


def export(path: Annotated[Path, typer.Argument(help="Zip file to write (JSON manifest + safetensors).")],
           as_json: bool = JSON_OPT) -> None:
    """Write every entry to a zip archive (no pickle)."""
    with _store() as store:
        n = store.export_archive(path)
    if as_json:
        _echo_json({"path": str(path), "entries": n})
    else:
        console.print(escape(f"exported {n} entries to {path}"))


def import_(path: Annotated[Path, typer.Argument(help="Archive written by `ttom memory export`.")],
            replace: bool = typer.Option(False, "--replace", help="Overwrite entries whose id is already stored."),
            as_json: bool = JSON_OPT) -> None:
    """Import an archive: everything is checked first, then written in one transaction."""
    with _store() as store:
        res = store.import_archive(path, replace=replace)
    if as_json:
        _echo_json(res.to_dict())
    else:
        console.print(f"imported {len(res.imported)}, replaced {len(res.replaced)}, skipped {len(res.skipped)} "
                      f"(already stored), evicted {len(res.evicted)}")


app.command("ls")(ls)
app.command("show")(show)
app.command("rm")(rm)
app.command("prune")(prune)
app.command("stats")(stats)
app.command("export")(export)
app.command("import")(import_)
