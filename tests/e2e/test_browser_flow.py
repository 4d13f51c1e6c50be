"""Every role through the pages only, in headless Chromium (no API call for anything a
user does):

- the 教育委員会 (applicant) selects, types every form of its application into the web
  forms (fields, pull-downs, check boxes, 「行を追加」), downloads the forms.zip the site
  makes of them and uploads it back, submits through the 確認画面 and gets the 受付票;
- its 首長部局 (forwarder) passes it on; the prefecture refuses a 否認 without a reason
  and approves; 総務省 reads the forms and the 突合 and approves; the master has a version;
- the operator creates an account for 東京都知事部局 on the account pages and issues its
  password link; that clerk activates the account, fills its forms and submits; J-LIS
  (the primary reviewer of a 都道府県知事部局) approves; the operator downloads the master
  export with the page session and administers another account (create, role change,
  disable).

A screenshot of each page visited is kept under test-artifacts/screenshots/<role>/, and
every page is checked not to scroll sideways at 1366 px (the applicant's form pages also
at 375 px)."""
from __future__ import annotations

import io
import re
import time
import zipfile

from shared import workbook as wbk
from shared.pluginmanager import form_specs
from tests import factories
from tests.e2e.conftest import VIEWPORT, logged_in
from tests.e2e.webform_fill import auto_rows, fill_form
from tests.form_data import (form_03_07, form_03_07_selected, form_03_08, form_03_09,
                             query_delegation,
                             required_forms)

ORG = "131016-BOE"
PREF_ORG = "130001"
PHONE = {"width": 375, "height": 800}
JST_TIME = re.compile(r"\d\d時\d\d分\d\d秒（日本時間）$")


class Shots:
    """Screenshots of one role's pages (``flow_NN_name.png`` beside the accessibility
    crawl's), numbered in the order visited; each page is checked to fit its width (the
    page itself never scrolls sideways)."""

    def __init__(self, root, role: str):
        self.dir = root / role
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page, name: str, width: int = VIEWPORT["width"]) -> None:
        self.n += 1
        page.screenshot(path=str(self.dir / f"flow_{self.n:02d}_{name}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
        if width > 640:
            assert not page.evaluate(SQUEEZED), (name, page.evaluate(SQUEEZED))


# A web form's row table scrolls in its own box rather than squeezing: no column heading
# narrower than three characters, no text box narrower than 10em (what was typed reads).
SQUEEZED = """() => {
  const em = parseFloat(getComputedStyle(document.body).fontSize), out = [];
  for (const th of document.querySelectorAll('.webform table.wf-rows > thead th'))
    if (th.offsetParent && th.getBoundingClientRect().width < 3 * em) out.push('th ' + th.textContent);
  for (const i of document.querySelectorAll('.webform table.wf-rows td input[type=text]:not(.mw-8)'))
    if (i.offsetParent && i.getBoundingClientRect().width < 10 * em) out.push('input ' + i.name);
  return out;
}"""


def _reload_until(page, check, what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what} on {page.url}"
        page.wait_for_timeout(400)
        page.reload()
        page.wait_for_load_state()


def _specs():
    """Every form plugin's FormSpec, as a suite process loads them."""
    from nws.testing import plugin_manager

    return form_specs(plugin_manager())


def _boe_forms() -> dict[str, dict]:
    """What the 教育委員会 types: the forms tests/form_data.py builds for it, with the
    受任事務 九 (delegated by 八王子市) it selected: a row of 様03-07 (1) and of 様03-08 (1),
    whose 規約 is attached (その他 on 様03-06); and its 独自利用事務 (条例連携), 様03-09."""
    forms = required_forms(ORG)
    forms["03-09"] = form_03_09(ORG)
    forms["03-07"]["query_affairs"].insert(0, form_03_07(ORG)["query_affairs"][0])
    forms["03-08"] = form_03_08(ORG, query_delegations=[query_delegation()])
    forms["03-06"]["attached_forms"] = forms["03-06"]["attached_forms"] + ["03-09", "other"]
    return forms


def _rows_on_page(page, spec, table_path: str) -> list[dict]:
    """The automatic cells of each row the page built from the selection, as data."""
    table = next(t for t in spec.layout.tables if t.path == table_path)
    autos = [c for c in table.columns if c.kind == wbk.AUTO]
    rows = []
    for texts in auto_rows(page, spec.layout, table_path):
        row: dict = {}
        for c, text in zip(autos, texts):
            wbk.set_path(row, c.path, text)
        rows.append(row)
    return rows


def _pref_03_07(page, spec) -> dict:
    """東京都知事部局's 様03-07: every row its selection gave, 申請区分 登録 and PIA not
    done (保有する特定個人情報ファイル1000人未満), as its clerk types them."""
    data = form_03_07_selected(PREF_ORG)
    for table in ("query_affairs", "provided_info"):
        data[table] = [{**row, "request_type": "登録",
                        "pia": {"status": "1000人未満", "reason": "", "reports": []}}
                       for row in _rows_on_page(page, spec, table)]
    return data


def _type_forms(page, shots, specs, base: str, forms, *, make=None,
                check_leave: bool = False) -> None:
    """Open each form's page from the application page, type it, save it (with
    ``check_leave``: first try to leave the first one unsaved, and be asked)."""
    for code, data in forms.items():
        page.goto(base)
        page.locator(f"#form-{code}").get_by_role("link", name="入力").click()
        page.wait_for_load_state()
        if make is not None and data is None:
            data = make(code, page, specs[code])
        fill_form(page, specs[code], data)
        shots(page, f"form_{code}_typed")
        if check_leave:     # leaving with unsaved changes asks first (webform.js)
            asked: list[str] = []
            page.once("dialog", lambda d: (asked.append(d.type), d.dismiss()))
            page.get_by_role("link", name="保存せずに申請の画面へ戻る").click()
            page.wait_for_timeout(300)
            assert asked == ["beforeunload"] and f"/forms/{code}" in page.url
            check_leave = False
        page.click("#save-form")
        page.wait_for_load_state()
        assert page.get_by_text(f"様{code}を保存しました。").is_visible(), code
        assert page.locator('[aria-invalid="true"]').count() == 0, code


def _all_valid(page, codes) -> bool:
    return page.locator("#progress").count() == 0 and all(
        page.locator(f"#form-{c} .status").inner_text() == "誤りなし" for c in codes)


def _attach_evidence(page) -> None:
    page.set_input_files("#attachment-file", files=[{
        "name": "事務の委託に関する規約.pdf", "mimeType": "application/pdf",
        "buffer": factories.PDF}])
    page.fill("#attachment-title", "事務の委託に関する規約")
    page.click("#attach")
    assert page.get_by_text("添付資料ID は A001 です。").is_visible()


def _submit(page, shots) -> str:
    """Through the 確認画面 to the 受付票; the 申請番号 on it."""
    page.click("#submit")
    assert page.get_by_role("heading", name="提出内容の確認").is_visible()
    shots(page, "submit_confirm")
    page.click("#confirm-submit")
    page.wait_for_load_state()
    assert page.locator("#receipt-h").inner_text() == "受付完了"
    number = page.locator("#receipt-number").inner_text().strip()
    assert re.fullmatch(r"\d{4}-\d{6}", number), number
    assert JST_TIME.search(page.locator("#receipt-at").inner_text())
    shots(page, "receipt")
    return number


def _attachments_download(page, shots, name: str, width: int = VIEWPORT["width"]) -> None:
    """On a reviewer's case page, the list of attachments and the 添付資料ID in 様03-08
    both download the attached PDF (under its Japanese file name)."""
    listed = page.locator("#attachment-list")
    text = listed.inner_text()
    assert "事務の委託に関する規約.pdf" in text and "登録日時（日本時間）" in text
    assert f"{len(factories.PDF)} バイト" in text and "東京都千代田区教育委員会" in text
    for link in (listed.locator("a.attachment-link").first,
                 page.locator("#form-03-08 a.attachment-ref").first):
        assert link.is_visible()
        link.scroll_into_view_if_needed()
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "事務の委託に関する規約.pdf"
        with open(download.value.path(), "rb") as f:
            assert f.read() == factories.PDF
    shots(page, name, width)


def _approve(page, shots, number: str, message: str = "申請を承認しました。") -> None:
    _reload_until(page, lambda: page.get_by_role("link", name=number).count() > 0,
                  f"{number} in the queue")
    shots(page, "queue")
    page.get_by_role("link", name=number).click()
    shots(page, "case")
    page.check("#result-ok")
    if page.locator("#comment").count():
        page.fill("#comment", "内容を確認しました。")
    page.click("#decide")
    shots(page, "decision_confirm")
    page.click("#confirm-decision")
    assert page.get_by_text(message).is_visible()
    shots(page, "decided")


def test_every_role_through_the_pages(live, browser, screenshots, tmp_path):
    specs = _specs()
    # --- the 教育委員会 (applicant) ----------------------------------------------------------
    shots = applicant_shots = Shots(screenshots, "applicant")
    boe = logged_in(browser, live, "demo-boe")
    refused: list[str] = []     # the pages' scripts run under the site's policy
    boe.on("console", lambda msg: refused.append(msg.text)
           if "Content Security Policy" in msg.text or "Refused" in msg.text else None)
    assert boe.url.endswith("/applicant/")
    # By keyboard: the first Tab reaches the skip link.
    boe.keyboard.press("Tab")
    assert boe.evaluate("document.activeElement.textContent") == "本文へ移動"
    shots(boe, "dashboard")
    boe.select_option("#kind", "connection")
    boe.get_by_role("button", name="新しい申請を作成").click()
    assert boe.get_by_role("heading", name="申請前情報選択画面").is_visible()
    # The 受任事務 its 様03-08 declares (項番九, delegated by 132012): the 委任元 is
    # searched by its code and picked (the picker searches as one types).
    boe.locator("#group-q-extra > summary").click()
    boe.fill("#xq_0", "九")
    extra = boe.locator("#row-xq-0")
    extra.get_by_text("機関を検索して追加").click()
    extra.get_by_label("機関名または団体コード（一部でも可）").fill("132012")
    extra.locator(".org-results label", has_text="東京都八王子市 132012").first.locator(
        "input").check()
    assert "東京都八王子市" in extra.locator(".org-chosen").inner_text()
    # Its 独自利用事務, as notified to 個人情報保護委員会 (様03-09's row).
    independent = form_03_09(ORG)["independent_affairs"][0]
    boe.locator("#group-ia > summary").click()
    boe.fill("#ia_case_0", independent["case_no"])
    boe.fill("#ia_name_0", independent["affair"])
    shots(boe, "selection")
    boe.click("#save-selection")
    assert boe.get_by_text("申請前情報の選択を保存しました。").is_visible()
    boe.get_by_role("link", name="申請の画面へ（様式の入力・提出）").click()
    base = boe.url.split("#")[0]
    app_id = int(base.rstrip("/").split("/")[-1])
    # The 規約 its delegation rests on (添付資料ID A001, named in 様03-08).
    _attach_evidence(boe)
    shots(boe, "application_attached")

    forms = _boe_forms()
    codes = [c for c in specs if boe.locator(f"#form-{c}").count()]
    assert sorted(codes) == sorted(forms), codes          # every form of the application
    _type_forms(boe, shots, specs, base, forms, check_leave=True)
    boe.goto(base)
    _reload_until(boe, lambda: _all_valid(boe, forms), "forms validated")
    shots(boe, "application_forms_valid")
    narrow = logged_in(browser, live, "demo-boe", PHONE)
    for code in forms:
        narrow.goto(f"{base}/forms/{code}")
        assert narrow.locator("#webform").is_visible()
        assert narrow.locator(".status").first.inner_text() == "誤りなし"
        shots(narrow, f"form_{code}_375px", PHONE["width"])
    narrow.context.close()

    # The forms.zip the site makes of what was typed, uploaded back: each workbook is
    # read, its progress and findings shown, and the forms stay 誤りなし.
    with boe.expect_download() as download:
        boe.get_by_role("link", name="全様式をダウンロード（zip）").click()
    archive = tmp_path / download.value.suggested_filename
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert len(names) == len(forms), names
    boe.set_input_files("#upload-file", str(archive))
    boe.get_by_role("button", name="アップロードする").click()
    boe.wait_for_load_state()
    assert f"Excel ファイル {len(forms)} 件を受け付けました" in boe.content()
    boe.locator("#upload-progress").filter(
        has_text="すべてのファイルの検証が終わりました").wait_for(timeout=60_000)
    cards = boe.locator("#upload-list li.file")
    assert cards.count() == len(forms)
    assert boe.locator("#upload-list li.file-invalid").count() == 0, \
        boe.locator("#upload-list").inner_text()
    shots(boe, "uploaded_forms_zip")
    _reload_until(boe, lambda: _all_valid(boe, forms), "forms validated after the upload")

    assert not refused, refused
    number = _submit(boe, shots)
    boe.click("#back")
    _reload_until(boe, lambda: "経由機関確認中" in boe.locator("table.summary").inner_text(),
                  "forwarding")
    shots(boe, "application_forwarding")

    # --- the 首長部局 passes it on ------------------------------------------------------
    shots = Shots(screenshots, "forwarder")
    fwd = logged_in(browser, live, "demo-forwarder")
    assert fwd.url.endswith("/review/")
    _approve(fwd, shots, number, "申請を審査機関へ送りました。")

    # --- the prefecture: a 否認 needs a reason; then 承認 -------------------------------
    shots = Shots(screenshots, "prefecture")
    pref = logged_in(browser, live, "demo-pref")
    _reload_until(pref, lambda: pref.get_by_role("link", name=number).count() > 0,
                  "the prefecture's queue")
    pref.get_by_role("link", name=number).click()
    assert pref.locator("table.form-fields").count() == len(forms)
    _attachments_download(pref, shots, "case_attachments")
    narrow = logged_in(browser, live, "demo-pref", PHONE)
    narrow.goto(pref.url)
    _attachments_download(narrow, shots, "case_attachments_375px", PHONE["width"])
    narrow.context.close()
    pref.check("#result-ng")
    pref.click("#decide")
    assert pref.locator("#decision-error").inner_text() == \
        "否認する場合は具体的な理由をコメントに記入してください。"
    shots(pref, "decision_error")
    pref.goto(f"{live.url}/review/")
    _approve(pref, shots, number)

    # --- 総務省: forms as tables, the 突合, 承認 -------------------------------------------
    shots = Shots(screenshots, "mic")
    mic = logged_in(browser, live, "demo-mic")
    _reload_until(mic, lambda: mic.get_by_role("link", name=number).count() > 0, "MIC's queue")
    shots(mic, "queue")
    mic.get_by_role("link", name=number).click()
    _reload_until(mic, lambda: mic.locator("#matching").count() > 0, "matching results")
    assert "山田 一郎" in mic.locator("#form-02-01 table.form-fields").inner_text()
    assert "132012" in mic.locator("#matching").inner_text()
    shots(mic, "case")
    # The 委任元 has not confirmed yet: approving needs the acknowledgement and a reason.
    assert "委任元の確認待ち" in mic.locator("#unresolved-matching").inner_text()
    mic.check("#result-ok")
    mic.click("#decide")
    assert "突合" in mic.locator("#decision-error").inner_text()
    mic.check("#acknowledge_matching")
    mic.fill("#comment", "委任元の確認は別途書面で受領済み。")
    mic.click("#decide")
    assert "突合の未解決" in mic.locator("#decision-effect").inner_text()
    shots(mic, "decision_confirm")
    mic.click("#confirm-decision")
    assert mic.get_by_text("申請を承認しました。").is_visible()
    mic.goto(f"{live.url}/review/progress")
    assert "東京都" in mic.locator("#progress-table").inner_text()
    shots(mic, "progress_chart")
    mic.goto(f"{live.url}/matching/graph?org={ORG}")
    assert mic.locator("#graph").is_visible()
    shots(mic, "delegation_graph")

    # --- the applicant sees the outcome -------------------------------------------------
    shots = applicant_shots
    boe.goto(base)
    _reload_until(boe, lambda: "登録済" in boe.locator("table.summary").inner_text(),
                  "registered")
    assert "二次審査 承認" in boe.locator("main").inner_text()
    shots(boe, "application_registered")
    for page in (boe, fwd, pref, mic):
        page.context.close()

    # --- the operator: an account for 東京都知事部局, its password link --------------------
    shots = operator_shots = Shots(screenshots, "operator")
    op = logged_in(browser, live, "demo-operator")
    _create_account(op, shots, live.url, "tokyo-chiji", PREF_ORG, "applicant", "知事部局 花子",
                    "デジタルサービス局")
    op.locator("#issue-link").click()
    op.wait_for_load_state()
    token = op.locator("#link-token").inner_text().strip()
    shots(op, "account_password_link")

    # --- 東京都知事部局 (applicant) activates its account, fills its forms, submits --------
    shots = Shots(screenshots, "applicant_prefecture")
    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP", accept_downloads=True)
    chiji = context.new_page()
    chiji.goto(f"{live.url}/auth/activate")
    chiji.fill("#token", token)
    chiji.fill("#password", "tocho-shinjuku-passphrase-26")
    chiji.fill("#password_confirm", "tocho-shinjuku-passphrase-26")
    shots(chiji, "activate")
    chiji.get_by_role("button", name="有効化する").click()
    chiji.wait_for_load_state()
    shots(chiji, "activated")
    chiji.goto(f"{live.url}/auth/login?next=/")
    chiji.fill("#login", "tokyo-chiji")
    chiji.fill("#password", "tocho-shinjuku-passphrase-26")
    chiji.get_by_role("button", name="ログイン").click()
    chiji.wait_for_load_state()
    assert chiji.url.endswith("/applicant/")
    chiji.select_option("#kind", "connection")
    chiji.get_by_role("button", name="新しい申請を作成").click()
    shots(chiji, "selection")
    chiji.click("#save-selection")
    assert chiji.get_by_text("申請前情報の選択を保存しました。").is_visible()
    chiji.get_by_role("link", name="申請の画面へ（様式の入力・提出）").click()
    pref_base = chiji.url.split("#")[0]
    pref_forms: dict = required_forms(PREF_ORG)
    pref_forms["03-07"] = None              # its rows come from its selection: typed per row
    _type_forms(chiji, shots, specs, pref_base, pref_forms,
                make=lambda code, page, spec: _pref_03_07(page, spec))
    chiji.goto(pref_base)
    _reload_until(chiji, lambda: _all_valid(chiji, pref_forms), "東京都's forms validated")
    pref_number = _submit(chiji, shots)

    # --- J-LIS, primary reviewer of a 都道府県知事部局, approves ------------------------------
    shots = Shots(screenshots, "jlis")
    jlis = logged_in(browser, live, "demo-jlis")
    assert jlis.url.endswith("/review/")
    _approve(jlis, shots, pref_number)
    jlis.context.close()
    context.close()

    # --- the operator: the master export with the page session; account administration -
    shots = operator_shots
    op.goto(f"{live.url}/master/")
    _reload_until(op, lambda: op.get_by_role("link", name="第1版").count() > 0, "master v1")
    assert number in op.locator("#versions").inner_text()
    shots(op, "master_versions")
    op.get_by_role("link", name="第1版").click()
    shots(op, "master_version")
    with op.expect_download() as download:
        op.get_by_role("link", name="表ごとの CSV（zip）").click()
    with zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read())) as zf:
        assert zf.namelist(), "an empty master export"
    # A 首長部局's 経由 account, first created with the wrong role, then corrected and
    # finally disabled: each step through its confirmation page, each in its history.
    _create_account(op, shots, live.url, "chiyoda-keiyu", "131016", "applicant", "経由 三郎",
                    "千代田区 情報政策課")
    op.select_option("#role", "forwarder")
    op.get_by_role("button", name="役割を変更する（確認画面へ）").click()
    assert op.locator("#new-role").inner_text() == "経由機関"
    shots(op, "account_role_confirm")
    op.locator("#confirm").click()
    op.wait_for_load_state()
    assert op.locator("#account-role").inner_text() == "経由機関"
    op.locator("#disable").click()
    op.wait_for_load_state()
    shots(op, "account_disable_confirm")
    op.locator("#confirm").click()
    op.wait_for_load_state()
    assert op.locator("#account-state").inner_text() == "無効"
    history = op.locator("#account-history").inner_text()
    assert "アカウントの無効化" in history and "経由機関" in history
    shots(op, "account_disabled")
    op.context.close()


def _create_account(op, shots, url: str, login: str, org: str, role: str, name: str,
                    department: str) -> None:
    """The operator creates an account on the account pages."""
    op.goto(f"{url}/auth/accounts/")
    shots(op, "accounts")
    op.get_by_role("link", name="アカウントを作成する").click()
    op.fill("#login", login)
    op.fill("#org", org)
    op.select_option("#role", role)
    op.fill("#name", name)
    op.fill("#department", department)
    op.fill("#password", "operator-set-passphrase-26")
    op.fill("#password_confirm", "operator-set-passphrase-26")
    shots(op, f"account_new_{login}")
    op.get_by_role("button", name="作成する").click()
    op.wait_for_load_state()
    assert f"アカウント {login} を作成しました" in op.content()
    shots(op, f"account_{login}")
