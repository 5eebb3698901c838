"""Write the th/en `.po` catalogs from the extracted template and `th_messages.TH`, then compile `.mo`.

pybabel extract -F frontend/babel.cfg -k _ -k gettext -o frontend/locales/messages.pot --no-location --omit-header .
python -m frontend.locales.build
"""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from frontend.i18n import LOCALES_DIR, compile_catalogs
from frontend.locales.th_messages import TH


def build() -> list[str]:
    with (LOCALES_DIR / "messages.pot").open("rb") as f:
        template = read_po(f)
    ids = [m.id for m in template if isinstance(m.id, str) and m.id] + [k for k in TH if k not in template]
    missing = []
    for lang in ("th", "en"):
        catalog = Catalog(locale=lang, project="tambon-trust", version="1.0", charset="utf-8")
        for msgid in ids:
            text = TH.get(msgid, "") if lang == "th" else ""
            if lang == "th" and not text:
                missing.append(msgid)
            catalog.add(msgid, text)
        out = LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as f:
            write_po(f, catalog, omit_header=False, width=0)
    for mo in LOCALES_DIR.glob("*/LC_MESSAGES/messages.mo"):
        mo.unlink()
    compile_catalogs()
    return missing


if __name__ == "__main__":
    untranslated = build()
    for msgid in untranslated:
        print(f"untranslated: {msgid}")
