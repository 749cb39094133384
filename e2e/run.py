#!/usr/bin/env python3
"""Checks that drive the real `tend` binary: the CLI's start-up failures, and the console
in headless Chromium. Run by .ci/run after `swift test`.

    python e2e/run.py --binary .build/debug/tend [--postgres-url postgres://...] [--only TEXT ...]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

results = []


ONLY = []  # --only: run just the checks whose names contain one of these


def check(name):
    def wrap(fn):
        def run(*args):
            if ONLY and not any(part.lower() in name.lower() for part in ONLY):
                return
            started = time.time()
            try:
                fn(*args)
                results.append((name, True, ""))
                print(f"ok   {name} ({time.time() - started:.1f}s)", flush=True)
            except Exception as error:  # noqa: BLE001 - report every failure and go on
                results.append((name, False, str(error)))
                print(f"FAIL {name}: {error}", flush=True)
                traceback.print_exc()
        return run
    return wrap


class DemoServer:
    """`tend demo` on a free port in a throw-away data folder."""

    def __init__(self, binary, data_dir):
        self.binary, self.data_dir = binary, data_dir
        self.process = None
        self.url = None
        self.output = []

    def __enter__(self):
        self.process = subprocess.Popen(
            [self.binary, "demo", "--data-dir", self.data_dir, "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            match = re.search(r"running at (http://\S+)", line)
            if match:
                self.url = match.group(1)
            if "demo" in line and "password" in line.lower():
                continue
            if self.url and ("Ctrl-C" in line):
                return self
        raise RuntimeError("demo did not start: " + "".join(self.output))

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_cli(binary, *args, env=None):
    merged = dict(os.environ)
    merged.pop("TEND_MASTER_KEY", None)
    merged.update(env or {})
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, env=merged)


@check("serve with an unreachable PostgreSQL exits with one line")
def serve_unreachable_postgres(binary, workdir):
    key = Path(workdir) / "k.key"
    key.write_text("k1:" + "A" * 43 + "=\n")
    result = run_cli(binary, "serve", "--database", "postgres://tend@127.0.0.1:1/tend?sslmode=disable",
                     "--key-file", str(key), "--port", "0")
    assert result.returncode != 0, "exit status was 0"
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "PostgreSQL" in lines[0], f"stderr was {result.stderr!r}"
    assert "Fatal error" not in result.stderr and "Stack" not in result.stderr


@check("serve without a master key exits with one line")
def serve_without_key(binary, workdir):
    result = run_cli(binary, "serve", "--database", f"sqlite:{workdir}/nokey.sqlite",
                     "--key-file", f"{workdir}/missing.key", "--port", "0")
    assert result.returncode != 0, "exit status was 0"
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "missing.key" in lines[0], f"stderr was {result.stderr!r}"


@check("serve with a bad port value names it")
def serve_bad_port(binary, workdir):
    result = run_cli(binary, "serve", env={"TEND_PORT": "eighty"})
    assert result.returncode != 0
    assert "TEND_PORT" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


@check("CLI: user add, token create and the API on PostgreSQL")
def cli_on_postgres(binary, workdir, postgres_url):
    if not postgres_url:
        print("     (skipped: no --postgres-url)")
        return
    key = Path(workdir) / "pg.key"
    key.write_text("k1:" + "B" * 43 + "=\n")
    schema_url = postgres_url
    common = ["--database", schema_url, "--key-file", str(key)]
    for args in (["migrate"], ["migrate"]):
        result = run_cli(binary, *args, *common)
        assert result.returncode == 0, result.stderr
    result = run_cli(binary, "program", "create", "--slug", f"e2e-{int(time.time())}", "--name", "E2E 项目", *common)
    assert result.returncode == 0, result.stderr
    slug = re.search(r"program (\S+)", result.stdout).group(1)
    email = f"e2e{int(time.time())}@tend.test"
    result = run_cli(binary, "user", "add", "--email", email, "--password", "e2e-password-1",
                     "--program", slug, "--role", "manager", *common)
    assert result.returncode == 0, result.stderr
    result = run_cli(binary, "token", "create", "--user", email, *common)
    assert result.returncode == 0 and result.stdout.startswith("tend_"), result.stderr
    token = result.stdout.strip()
    server = subprocess.Popen([binary, "serve", *common, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.time() + 30
        while time.time() < deadline and url is None:
            line = server.stdout.readline()
            match = re.search(r"running at (http://\S+)", line or "")
            url = match.group(1) if match else None
        assert url, "serve did not print its URL"
        import json
        import urllib.request
        request = urllib.request.Request(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        body = json.load(urllib.request.urlopen(request, timeout=10))
        assert body["user"]["email"] == email and body["programs"][0]["slug"] == slug, body
    finally:
        server.terminate()
        server.wait(timeout=15)


@check("CLI: import patients twice (1% invalid), rotate the master key, validate, load and enrol a pathway")
def cli_import_and_rotate(binary, workdir):
    data = Path(workdir) / "cli"
    data.mkdir()
    key = data / "master.key"
    key.write_text("k1:" + "C" * 43 + "=\n")
    common = ["--database", f"sqlite:{data}/tend.sqlite", "--key-file", str(key)]
    assert run_cli(binary, "migrate", *common).returncode == 0
    assert run_cli(binary, "program", "create", "--slug", "imp", "--name", "导入测试", *common).returncode == 0
    lines = ["患者编号,姓名,手机号,身份证号,标签"]
    for index in range(500):
        name = "" if index % 100 == 42 else f"患者{index}"
        lines.append(f"X{index},{name},139{index:08d},ID{index:08d},disease=T2DM;cohort={index % 3}")
    csv = data / "patients.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = run_cli(binary, "import", "patients", str(csv), "--program", "imp", *common)
    assert first.returncode == 0, first.stderr
    assert "495 created, 0 updated, 5 rejected" in first.stdout, first.stdout
    rejects = (data / "patients.csv.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == "line,field,reason" and len(rejects) == 6 and rejects[1].startswith("44,name,"), rejects
    second = run_cli(binary, "import", "patients", str(csv), "--program", "imp", *common)
    assert "0 created, 495 updated, 5 rejected" in second.stdout, second.stdout
    rotated = run_cli(binary, "keys", "rotate", *common)
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-encrypted 495 patients under k2; 0 left" in rotated.stdout, rotated.stdout
    assert len(key.read_text().split()) == 2
    blob = (data / "tend.sqlite").read_bytes()
    assert "患者7".encode() not in blob and b"13900000007" not in blob
    # Pathway files: problems name their line; a good file loads and bulk enrolment plans it.
    bad = data / "bad.yaml"
    bad.write_text("pathway: bad\nname: {zh: 坏, en: Bad}\nsteps:\n  - id: a\n    offset: soon\n    at: \"09:00\"\n    message: {zh: 你好, en: Hi}\n", encoding="utf-8")
    checked = run_cli(binary, "pathway", "validate", str(bad))
    assert checked.returncode != 0 and f"{bad}:5: bad offset" in checked.stderr, checked.stderr
    good = Path(__file__).resolve().parent.parent / "Sources/TendServer/Assets/pathways/s3-gdm-camp.yaml"
    assert run_cli(binary, "pathway", "validate", str(good)).returncode == 0
    loaded = run_cli(binary, "pathway", "load", str(good), "--program", "imp", *common)
    assert loaded.returncode == 0, loaded.stderr
    enrolled = run_cli(binary, "enrol", "--program", "imp", "--pathway", "s3-gdm-camp", "--tags", "disease=T2DM",
                       "--anchor", "camp_start=2030-01-01", *common)
    assert enrolled.returncode == 0 and "Enrolled 495 patients, 15840 touchpoints" in enrolled.stdout, enrolled.stdout + enrolled.stderr


@check("CLI: import readings twice (an impossible value and an unknown patient refused), questionnaire score and validate")
def cli_observations_and_questionnaires(binary, workdir):
    data = Path(workdir) / "obs"
    data.mkdir()
    key = data / "master.key"
    key.write_text("k1:" + "D" * 43 + "=\n")
    common = ["--database", f"sqlite:{data}/tend.sqlite", "--key-file", str(key)]
    assert run_cli(binary, "migrate", *common).returncode == 0
    assert run_cli(binary, "program", "create", "--slug", "obs", "--name", "读数", *common).returncode == 0
    patients = data / "patients.csv"
    patients.write_text("患者编号,姓名\nG1,甲\nG2,乙\n", encoding="utf-8")
    assert run_cli(binary, "import", "patients", str(patients), "--program", "obs", *common).returncode == 0
    readings = data / "readings.csv"
    readings.write_text("\n".join([
        "患者编号,指标,数值,单位,测量时间,记录编号",
        "G1,glucose-fasting,5.6,mmol/L,2026-12-01T07:30:00+08:00,a1",
        "G1,glucose-post-meal,140,mg/dL,2026-12-01T09:30:00+08:00,a2",
        "G2,body-temperature,101.5,°F,2026-12-01T20:00:00+08:00,a3",
        "G2,glucose-fasting,300,mmol/L,2026-12-02T07:30:00+08:00,a4",
        "G9,glucose-fasting,5.1,mmol/L,2026-12-02T07:30:00+08:00,a5",
    ]) + "\n", encoding="utf-8")
    first = run_cli(binary, "import", "observations", str(readings), "--program", "obs", "--source", "device", *common)
    assert first.returncode == 0, first.stderr
    assert "3 recorded, 0 already there, 2 rejected" in first.stdout, first.stdout
    rejects = (data / "readings.csv.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == "line,field,reason" and rejects[1].startswith("5,value,") and rejects[2].startswith("6,patient_external_id,"), rejects
    second = run_cli(binary, "import", "observations", str(readings), "--program", "obs", "--source", "device", *common)
    assert "0 recorded, 3 already there, 2 rejected" in second.stdout, second.stdout
    scored = run_cli(binary, "questionnaire", "score", "phq-9", "--answers", json.dumps({str(i): 2 for i in range(1, 10)}))
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    assert result["total"] == 18 and result["band"]["id"] == "moderately-severe" and result["flags"][0]["level"] == "urgent", result
    broken = data / "broken.yaml"
    broken.write_text("questionnaire: x\nversion: 1\nitems:\n  - id: q1\n    type: sliders\n", encoding="utf-8")
    invalid = run_cli(binary, "questionnaire", "validate", str(broken))
    assert invalid.returncode != 0 and "broken.yaml:5: unknown item type" in invalid.stdout + invalid.stderr, invalid.stdout + invalid.stderr


@check("CLI: adherence pdc — same-drug overlaps shifted, a class united, supply past the end, under 91 days, no fills, two fills on one day, bad lines named")
def cli_adherence_pdc(binary, workdir):
    data = Path(workdir) / "pdc"
    data.mkdir()

    def pdc(fills, *args):
        path = data / f"fills-{len(list(data.iterdir()))}.ndjson"
        path.write_text("".join(json.dumps(fill) + "\n" for fill in fills), encoding="utf-8")
        result = run_cli(binary, "adherence", "pdc", str(path), "--end", "2026-12-31", *args)
        return result

    def expect(fills, wanted, *args):
        result = pdc(fills, *args)
        assert result.returncode == 0, result.stderr
        got = json.loads(result.stdout)
        assert got == wanted, (fills, got, wanted)

    expect([{"drug": "atorvastatin", "filled_on": "2026-10-01", "days_supply": 30},
            {"drug": "atorvastatin", "filled_on": "2026-10-21", "days_supply": 30}],
           {"pdc": 0.6522, "covered_days": 60, "treatment_days": 92, "adherent": False, "measurable": True})
    expect([{"drug": "atorvastatin", "class": "statin", "filled_on": "2026-10-01", "days_supply": 30},
            {"drug": "rosuvastatin", "class": "statin", "filled_on": "2026-10-16", "days_supply": 30}],
           {"pdc": 0.4891, "covered_days": 45, "treatment_days": 92, "adherent": False, "measurable": True})
    expect([{"drug": "metformin", "filled_on": "2026-09-01", "days_supply": 90},
            {"drug": "metformin", "filled_on": "2026-11-30", "days_supply": 90}],
           {"pdc": 1.0, "covered_days": 122, "treatment_days": 122, "adherent": True, "measurable": True})
    expect([{"drug": "metformin", "filled_on": "2026-10-03", "days_supply": 90}],
           {"pdc": None, "covered_days": 90, "treatment_days": 90, "adherent": False, "measurable": False})
    expect([], {"pdc": None, "covered_days": 0, "treatment_days": 0, "adherent": False, "measurable": False})
    expect([{"drug": "losartan", "filled_on": "2026-10-01", "days_supply": 45},
            {"drug": "losartan", "filled_on": "2026-10-01", "days_supply": 45}],
           {"pdc": 0.9783, "covered_days": 90, "treatment_days": 92, "adherent": True, "measurable": True})
    expect([{"drug": "metformin", "filled_on": "2025-12-20", "days_supply": 30},
            {"drug": "metformin", "filled_on": "2026-03-01", "days_supply": 300}],
           {"pdc": 0.9804, "covered_days": 300, "treatment_days": 306, "adherent": True, "measurable": True}, "--start", "2026-01-01")
    mixed = pdc([{"drug": "a", "class": "statin", "filled_on": "2026-10-01", "days_supply": 30},
                 {"drug": "b", "class": "arb", "filled_on": "2026-10-01", "days_supply": 30}])
    assert mixed.returncode != 0 and "--class" in mixed.stderr, mixed.stderr
    bad = pdc([{"drug": "a", "filled_on": "2026-02-30", "days_supply": 30}, {"drug": "a", "filled_on": "2026-10-01", "days_supply": 1e300}])
    assert bad.returncode != 0 and ":line 1, filled_on:" in bad.stderr and ":line 2, days_supply:" in bad.stderr, bad.stderr
    far = run_cli(binary, "adherence", "pdc", str(data / "fills-0.ndjson"), "--end", "99999-01-01")
    assert far.returncode != 0 and "--end" in far.stderr, far.stderr


@check("browser: demo login shows the program switcher with both programs")
def browser_login(binary, workdir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import WebDriverWait

    data_dir = Path(workdir) / "demo"
    with DemoServer(binary, str(data_dir)) as demo:
        banner = "".join(demo.output)
        login = re.search(r"^\s+(manager@\S+)", banner, re.M).group(1)
        password = re.search(r"password (\S+)\)", banner).group(1)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            wait = WebDriverWait(driver, 20)
            switcher = sign_in(driver, wait, demo.url, login, password, start="/")
            names = [option.text for option in switcher.find_elements(By.TAG_NAME, "option")]
            assert any("GDM" in name for name in names) and any("Lung" in name for name in names), names
            OUT.mkdir(exist_ok=True)
            driver.save_screenshot(str(OUT / "login-program-switcher.png"))
            # Switching program through the select lands on the other program's home.
            other = next(o for o in switcher.find_elements(By.TAG_NAME, "option") if not o.is_selected())
            other_name = other.text
            other.click()
            wait.until(conditions.text_to_be_present_in_element((By.ID, "program-name"), other_name))
            driver.set_window_size(390, 844)
            driver.save_screenshot(str(OUT / "program-home-phone.png"))
        finally:
            driver.quit()
    # A second run reuses the data and keeps the same master key.
    key_before = (data_dir / "master.key").read_text()
    with DemoServer(binary, str(data_dir)) as demo:
        assert "Reusing" in "".join(demo.output), demo.output
    assert (data_dir / "master.key").read_text() == key_before


@check("browser: filter patients by tag, open one, edit a field, see the audit entry")
def browser_patient_edit(binary, workdir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with DemoServer(binary, str(Path(workdir) / "demo-patients")) as demo:
        driver = make_driver(webdriver, Service)
        try:
            wait = WebDriverWait(driver, 20)
            sign_in(driver, wait, demo.url, "manager@tend.demo", "tend-demo-2026")
            click_to_new_page(driver, wait, driver.find_element(By.ID, "nav-patients"))
            field = wait.until(conditions.presence_of_element_located((By.ID, "filter-tags")))
            field.clear()
            field.send_keys("trimester=3")
            click_to_new_page(driver, wait, driver.find_element(By.ID, "filter-submit"))
            wait.until(conditions.presence_of_element_located((By.ID, "patient-list")))
            rows = driver.find_elements(By.CSS_SELECTOR, "#patient-list tbody tr")
            assert rows, "no patient has trimester=3"
            texts = [row.text for row in rows]
            assert all("trimester=3" in text for text in texts), f"the filter let through a patient without the tag: {texts[:3]}, url {driver.current_url}"
            click_to_new_page(driver, wait, rows[0].find_element(By.CLASS_NAME, "patient-link"))
            wait.until(conditions.presence_of_element_located((By.ID, "patient-name")))
            click_to_new_page(driver, wait, driver.find_element(By.ID, "edit-patient"))
            address = wait.until(conditions.presence_of_element_located((By.ID, "f-address")))
            address.clear()
            address.send_keys("上海市徐汇区测试路 8 号")
            click_to_new_page(driver, wait, driver.find_element(By.ID, "save-patient"))
            wait.until(conditions.text_to_be_present_in_element((By.ID, "profile-address"), "上海市徐汇区测试路 8 号"))
            actions = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#audit-trail .audit-action")]
            assert "patient.update" in actions, actions
            OUT.mkdir(exist_ok=True)
            driver.save_screenshot(str(OUT / "patient-edited-audit.png"))
            # A bad value is refused with a message naming the field, and nothing changes.
            click_to_new_page(driver, wait, driver.find_element(By.ID, "edit-patient"))
            phone = wait.until(conditions.presence_of_element_located((By.ID, "f-phone")))
            phone.clear()
            phone.send_keys("not a phone")
            click_to_new_page(driver, wait, driver.find_element(By.ID, "save-patient"))
            error = wait.until(conditions.presence_of_element_located((By.ID, "form-error")))
            assert "phone" in error.text, error.text
        finally:
            driver.quit()


@check("browser: open a demo patient's schedule, reschedule the revisit, see the new dates")
def browser_reschedule(binary, workdir):
    import datetime
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with DemoServer(binary, str(Path(workdir) / "demo-schedule")) as demo:
        driver = make_driver(webdriver, Service)
        try:
            wait = WebDriverWait(driver, 20)
            sign_in(driver, wait, demo.url, "doctor@tend.demo", "tend-demo-2026")
            driver.get(demo.url + "/p/lung-followup/patients?tags=stage%3Dsurgery")
            wait.until(conditions.presence_of_element_located((By.ID, "patient-list")))
            click_to_new_page(driver, wait, driver.find_elements(By.CLASS_NAME, "patient-link")[0])
            wait.until(conditions.presence_of_element_located((By.ID, "touchpoints")))
            def booking():
                row = driver.find_element(By.CSS_SELECTOR, "#touchpoints tr[data-step='book-reminder']")
                return row.find_element(By.CLASS_NAME, "tp-when").text
            before = booking()
            old_revisit = driver.find_element(By.CSS_SELECTOR, ".anchor-date[data-anchor='revisit']").text
            new_revisit = (datetime.date.fromisoformat(old_revisit) + datetime.timedelta(days=21)).isoformat()
            form = driver.find_element(By.CSS_SELECTOR, "form.reschedule")
            form.find_element(By.CSS_SELECTOR, "select[name='anchor'] option[value='revisit']").click()
            field = form.find_element(By.CLASS_NAME, "reschedule-date")
            driver.execute_script("arguments[0].value = arguments[1]", field, new_revisit)
            click_to_new_page(driver, wait, form.find_element(By.CLASS_NAME, "reschedule-submit"))
            wait.until(conditions.text_to_be_present_in_element((By.CSS_SELECTOR, ".anchor-date[data-anchor='revisit']"), new_revisit))
            after = booking()
            expected = (datetime.date.fromisoformat(new_revisit) - datetime.timedelta(days=7)).isoformat()
            assert after.startswith(expected), f"booking reminder moved from {before} to {after}, expected {expected}"
            OUT.mkdir(exist_ok=True)
            driver.save_screenshot(str(OUT / "schedule-rescheduled.png"))
            click_to_new_page(driver, wait, driver.find_element(By.ID, "nav-pathways"))
            wait.until(conditions.presence_of_element_located((By.ID, "pathway-s1-revisit")))
            driver.save_screenshot(str(OUT / "pathway-timeline.png"))
        finally:
            driver.quit()


@check("browser: the demo manager opens Today and completes a call task with an outcome")
def browser_today(binary, workdir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    with DemoServer(binary, str(Path(workdir) / "demo-today")) as demo:
        driver = make_driver(webdriver, Service)
        try:
            wait = WebDriverWait(driver, 20)
            sign_in(driver, wait, demo.url, "manager@tend.demo", "tend-demo-2026")
            click_to_new_page(driver, wait, driver.find_element(By.ID, "nav-today"))
            wait.until(conditions.presence_of_element_located((By.ID, "tasks")))
            tasks = driver.find_elements(By.CSS_SELECTOR, "#tasks li.task")
            assert tasks, "Today shows no task"
            assert "overdue" in tasks[0].get_attribute("class"), "the first task is not the overdue one"
            call = next(t for t in tasks if "Call" in t.find_element(By.CLASS_NAME, "task-title").text)
            task_id = call.get_attribute("data-task")
            OUT.mkdir(exist_ok=True)
            driver.save_screenshot(str(OUT / "today.png"))
            Select(call.find_element(By.CLASS_NAME, "task-outcome")).select_by_value("reached")
            call.find_element(By.CLASS_NAME, "task-note").send_keys("Will come on time / 会按时来")
            click_to_new_page(driver, wait, call.find_element(By.CLASS_NAME, "task-done"))
            wait.until(conditions.presence_of_element_located((By.ID, "today-summary")))
            remaining = [t.get_attribute("data-task") for t in driver.find_elements(By.CSS_SELECTOR, "#tasks li.task")]
            assert task_id not in remaining, f"{task_id} is still open: {remaining}"
            driver.save_screenshot(str(OUT / "today-after.png"))
        finally:
            driver.quit()


@check("browser: the inbox lists the demo morning urgent first with reasons highlighted; resolve an urgent message")
def browser_inbox(binary, workdir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with DemoServer(binary, str(Path(workdir) / "demo-inbox")) as demo:
        driver = make_driver(webdriver, Service)
        try:
            wait = WebDriverWait(driver, 20)
            sign_in(driver, wait, demo.url, "manager@tend.demo", "tend-demo-2026")
            driver.get(demo.url + "/p/gdm-camp/inbox")
            wait.until(conditions.presence_of_element_located((By.ID, "inbox")))
            items = driver.find_elements(By.CSS_SELECTOR, "#inbox li.message")
            queues = [item.get_attribute("data-queue") for item in items]
            order = ["urgent", "moderation", "private", "general"]
            assert queues and queues[0] == "urgent", queues
            assert [order.index(q) for q in queues] == sorted(order.index(q) for q in queues), f"not in urgency order: {queues}"
            first = items[0]
            marks = [mark.text for mark in first.find_elements(By.TAG_NAME, "mark")]
            assert marks, "the urgent message has no highlighted reason"
            message_id = first.get_attribute("data-message")
            OUT.mkdir(exist_ok=True)
            driver.save_screenshot(str(OUT / "inbox.png"))
            click_to_new_page(driver, wait, first.find_element(By.CLASS_NAME, "resolve"))
            wait.until(conditions.presence_of_element_located((By.ID, "inbox-summary")))
            remaining = [item.get_attribute("data-message") for item in driver.find_elements(By.CSS_SELECTOR, "#inbox li.message")]
            assert message_id not in remaining, f"{message_id} is still open"
        finally:
            driver.quit()


class Receiver:
    """A local webhook receiver: records every request's Idempotency-Key and body."""

    def __init__(self, delay=0.0):
        import http.server
        import threading
        receiver = self
        self.lock = threading.Lock()
        self.received = []
        self.bodies = []
        self.delay = delay

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                import json
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    parsed = json.loads(body)
                    receiver.received.append((self.headers.get("Idempotency-Key"), parsed["touchpoint_id"]))
                    receiver.bodies.append(parsed)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a killed dispatcher drops its connections; that is the point of the test

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


DAILY_PATHWAY = """pathway: e2e-daily
version: 1
name: {zh: 每日提醒, en: Daily reminder}
anchors: [start]
steps:
  - id: daily
    anchor: start
    offset: 0d
    at: "09:00"
    repeat: {every: 1d, count: 10}
    channels: [webhook]
    message:
      zh: "{{patient.name}}您好，今天是第{{occurrence}}天"
      en: "Hello {{patient.name}}, this is day {{occurrence}}"
"""


def program_with_due_touchpoints(binary, common, data, patients, receiver_url):
    """A program whose patients each have ten webhook touchpoints due by 2030-01-11."""
    for args in (["migrate"], ["program", "create", "--slug", "hooks", "--name", "Webhook 测试"]):
        result = run_cli(binary, *args, *common)
        assert result.returncode == 0, result.stderr
    csv = data / "patients.csv"
    csv.write_text("external_id,name,phone,tags\n" + "".join(f"H{i},患者{i},137{i:08d},cohort=hooks\n" for i in range(patients)), encoding="utf-8")
    pathway = data / "daily.yaml"
    pathway.write_text(DAILY_PATHWAY, encoding="utf-8")
    for args in (["import", "patients", str(csv), "--program", "hooks"], ["pathway", "load", str(pathway), "--program", "hooks"],
                 ["enrol", "--program", "hooks", "--pathway", "e2e-daily", "--tags", "cohort=hooks", "--anchor", "start=2030-01-01"],
                 ["channel", "set", "--program", "hooks", "--channel", "webhook", "--url", receiver_url, "--secret", "e2e-webhook-secret-0123"]):
        result = run_cli(binary, *args, *common)
        assert result.returncode == 0, f"{args[0]}: {result.stdout} {result.stderr}"


@check("dispatch: S1 driven by tend dispatch --now — the unconfirmed patient gets the call task and the voice step, the one who confirmed through the link does not")
def dispatch_s1_by_now(binary, workdir):
    import json
    import urllib.request
    data = Path(workdir) / "s1"
    data.mkdir()
    key = data / "master.key"
    key.write_text("k1:" + "F" * 43 + "=\n")
    common = ["--database", f"sqlite:{data}/tend.sqlite", "--key-file", str(key)]
    receiver = Receiver()
    server = None
    try:
        for args in (["migrate"], ["program", "create", "--slug", "s1e2e", "--name", "复诊 S1"],
                     ["user", "add", "--email", "m@s1.test", "--password", "s1-password-123", "--program", "s1e2e", "--role", "manager"]):
            result = run_cli(binary, *args, *common)
            assert result.returncode == 0, result.stderr
        token = run_cli(binary, "token", "create", "--user", "m@s1.test", *common).stdout.strip()
        csv = data / "s1.csv"
        csv.write_text("external_id,name,phone,channels,tags\nA,李华,13700000001,webhook,cohort=s1\nB,王芳,13700000002,webhook,cohort=s1\n", encoding="utf-8")
        s1 = Path(__file__).resolve().parent.parent / "Sources/TendServer/Assets/pathways/s1-revisit.yaml"
        for args in (["import", "patients", str(csv), "--program", "s1e2e"], ["pathway", "load", str(s1), "--program", "s1e2e"],
                     ["enrol", "--program", "s1e2e", "--pathway", "s1-revisit", "--tags", "cohort=s1", "--anchor", "revisit=2030-03-10"],
                     ["channel", "set", "--program", "s1e2e", "--channel", "webhook", "--url", receiver.url, "--secret", "s1-webhook-secret-0123"]):
            result = run_cli(binary, *args, *common)
            assert result.returncode == 0, f"{args[0]}: {result.stdout} {result.stderr}"
        env = dict(os.environ)
        env.pop("TEND_MASTER_KEY", None)
        env["TEND_DISPATCH_ENABLED"] = "false"
        server = subprocess.Popen([binary, "serve", *common, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        url = None
        deadline = time.time() + 30
        while time.time() < deadline and url is None:
            match = re.search(r"running at (http://\S+)", server.stdout.readline() or "")
            url = match.group(1) if match else None
        assert url, "serve did not print its URL"

        def dispatch(now):
            result = subprocess.run([binary, "dispatch", "--now", now, "--public-url", url, *common], capture_output=True, text=True, env=env, timeout=120)
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout.strip().splitlines()[-1])

        def steps(name):
            return [body["step"] for body in receiver.bodies if body["text"].find(name) >= 0]

        def tasks():
            request = urllib.request.Request(f"{url}/api/v1/programs/s1e2e/tasks", headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
            return json.load(urllib.request.urlopen(request, timeout=10))["items"]

        dispatch("2030-03-03T09:00:00+08:00")
        assert steps("李华") == ["book-reminder"] and steps("王芳") == ["book-reminder"], receiver.bodies
        dispatch("2030-03-08T10:00:00+08:00")
        request = next(body for body in receiver.bodies if body["step"] == "confirm" and "李华" in body["text"])
        link = request["confirm_url"]
        assert link.startswith(url + "/c/") and link in request["text"], request
        page = urllib.request.urlopen(link, timeout=10).read().decode()
        assert "confirm-submit" in page, "the link page does not ask"
        done = urllib.request.urlopen(urllib.request.Request(link, data=b"", method="POST"), timeout=10).read().decode()
        assert "confirm-done" in done, "the POST did not confirm"
        # Confirming cancelled the confirmed patient's call step and, down the chain, her voice step.
        report = dispatch("2030-03-09T10:00:00+08:00")
        assert report["claimed"] == 1 and report["tasks"] == 1, report
        open_tasks = tasks()
        assert len(open_tasks) == 1 and "王芳" in open_tasks[0]["title"] and open_tasks[0]["kind"] == "call", open_tasks
        report = dispatch("2030-03-10T07:30:00+08:00")
        assert report["claimed"] == 1 and report["tasks"] == 1, report
        assert sorted(task["kind"] for task in tasks()) == ["call", "voice_call"] and all("王芳" in task["title"] for task in tasks())
        dispatch("2030-03-11T12:00:00+08:00")
        assert steps("李华") == ["book-reminder", "confirm", "attended-check"], steps("李华")
        assert steps("王芳") == ["book-reminder", "confirm", "attended-check"], steps("王芳")
    finally:
        receiver.close()
        if server:
            server.terminate()
            server.wait(timeout=15)


@check("s5: refills through the binary — tend import dispenses twice (a bad row refused, nothing doubled); the 30-day TCM fill is reminded 5 days before run-out by tend dispatch --now; an early refill cancels the next reminder and the missed-refill task; a refill that never comes becomes the pharmacist's task")
def s5_refills_through_the_binary(binary, workdir):
    import json
    data = Path(workdir) / "s5"
    data.mkdir()
    key = data / "master.key"
    key.write_text("k1:" + "E" * 43 + "=\n")
    common = ["--database", f"sqlite:{data}/tend.sqlite", "--key-file", str(key)]
    refill = Path(__file__).resolve().parent.parent / "Sources/TendServer/Assets/pathways/s5-tcm-refill.yaml"
    patients = data / "s5.csv"
    patients.write_text("external_id,name,phone\nP1,赵保髋,13700000051\nP2,钱西药,13700000052\n", encoding="utf-8")
    for args in (["migrate"], ["program", "create", "--slug", "s5e2e", "--name", "保髋 S5"],
                 ["import", "patients", str(patients), "--program", "s5e2e"], ["pathway", "load", str(refill), "--program", "s5e2e"]):
        result = run_cli(binary, *args, *common)
        assert result.returncode == 0, f"{args[0]}: {result.stdout} {result.stderr}"

    def dispenses(name, rows, now):
        path = data / name
        path.write_text("患者编号,药品,药品类别,发药日期,用药天数,药房,记录编号\n" + "".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
        result = run_cli(binary, "import", "dispenses", str(path), "--program", "s5e2e", "--source", "his", "--now", now, *common)
        assert result.returncode == 0, result.stderr
        return result.stdout, path

    def dispatch(now):
        result = run_cli(binary, "dispatch", "--now", now, *common)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    first = [["P1", "健骨生丸", "tcm-hip", "2030-03-01", "30", "门诊药房", "rx-1"],
             ["P2", "阿托伐他汀", "statin", "2030-03-01", "30", "门诊药房", "rx-2"],
             ["P1", "健骨生丸", "tcm-hip", "2030-02-30", "30", "门诊药房", "rx-bad"]]
    out, path = dispenses("first.csv", first, "2030-03-01T10:00:00+08:00")
    assert "新增 2" in out and "拒绝 1" in out, out
    rejects = Path(str(path) + ".rejects.csv").read_text(encoding="utf-8")
    assert "4,filled_on," in rejects, rejects
    out, _ = dispenses("first.csv", first, "2030-03-01T11:00:00+08:00")
    assert "新增 0" in out and "已存在 2" in out, out
    # Covered 03-01…03-30, runs out 03-31: the reminder is due on 03-26 at 09:00.
    assert dispatch("2030-03-26T08:55:00+08:00")["claimed"] == 0
    report = dispatch("2030-03-26T09:05:00+08:00")
    assert report["claimed"] == 1 and report["delivered"] == 1, report
    # Refilled early on 03-28: runs out 04-30; nothing is due on 04-03 (the old missed-refill task is cancelled).
    out, _ = dispenses("second.csv", [["P1", "健骨生丸", "tcm-hip", "2030-03-28", "30", "门诊药房", "rx-3"]], "2030-03-28T15:00:00+08:00")
    assert "新增 1" in out, out
    assert dispatch("2030-04-03T10:05:00+08:00")["claimed"] == 0
    # Refilled again on 04-20, before the 04-25 reminder: that reminder is cancelled; the next is on 05-25.
    dispenses("third.csv", [["P1", "健骨生丸", "tcm-hip", "2030-04-20", "30", "门诊药房", "rx-4"]], "2030-04-20T15:00:00+08:00")
    assert dispatch("2030-04-25T09:05:00+08:00")["claimed"] == 0
    report = dispatch("2030-05-25T09:05:00+08:00")
    assert report["claimed"] == 1 and report["delivered"] == 1, report
    # No refill by the run-out (05-30) plus three days: the pharmacist's task.
    report = dispatch("2030-06-02T10:05:00+08:00")
    assert report["claimed"] == 1 and report["tasks"] == 1, report
    assert dispatch("2030-06-03T10:05:00+08:00")["claimed"] == 0


def s6_generated_program(today):
    """2,000 asthma patients relative to `today` (China Standard Time): a follow-up that began
    80 days ago (75-day windows, so it has ended), baseline and follow-up dispenses of an
    ICS/LABA, ACT at baseline and for four in five again in the follow-up. Returns the rows and
    the figures the report must show, counted day by day."""
    from datetime import timedelta
    start = today - timedelta(days=80)
    baseline = (start - timedelta(days=75), start - timedelta(days=1))
    follow_up = (start, start + timedelta(days=74))
    patients, dispenses, readings = [], [], []
    totals = {"baseline": 0, "follow_up": 0, "poorly": 0, "reassessed": 0, "improved": 0}
    for index in range(2000):
        patients.append(f"AS{index},哮喘{index}")
        fills = []
        first = baseline[0] + timedelta(days=index % 20)
        if index % 3 == 0:
            fills.append(baseline[0] - timedelta(days=24))
        fills.append(first)
        if index % 2 == 0:
            fills.append(first + timedelta(days=35))
        for month in range(1 if index % 4 == 3 else 3):
            fills.append(start + timedelta(days=index % 7 + 30 * month))
        covered, next_free = set(), None
        for number, filled in enumerate(sorted(fills)):
            dispenses.append(f"AS{index},布地奈德福莫特罗,ics-laba,{filled.isoformat()},30,门诊药房,as-{index}-{number}")
            begin = filled if next_free is None or filled > next_free else next_free
            covered.update(begin + timedelta(days=d) for d in range(30))
            next_free = begin + timedelta(days=30)
        totals["baseline"] += sum(1 for day in covered if baseline[0] <= day <= baseline[1])
        totals["follow_up"] += sum(1 for day in covered if follow_up[0] <= day <= follow_up[1])
        score = 12 + index % 12
        readings.append(f"AS{index},act,{score},,{(start - timedelta(days=7)).isoformat()}T10:00:00+08:00,act-b-{index}")
        if index % 5 != 4:
            later = min(25, max(5, score + index % 6 - 1))
            readings.append(f"AS{index},act,{later},,{(start + timedelta(days=61)).isoformat()}T10:00:00+08:00,act-f-{index}")
            if score < 20:
                totals["reassessed"] += 1
                totals["improved"] += 1 if later - score >= 3 or later >= 20 else 0
        totals["poorly"] += 1 if score < 20 else 0
    return start, patients, dispenses, readings, totals


@check("s6: the adherence report over 2,000 generated asthma patients (imported through the binary) shows days on therapy against the baseline and the share of poorly controlled patients whose control improved, in the browser with its charts, and exports both as CSV")
def s6_report_in_the_browser(binary, workdir):
    import urllib.request
    from datetime import datetime, timedelta, timezone
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import WebDriverWait

    data = Path(workdir) / "s6"
    data.mkdir()
    key = data / "master.key"
    key.write_text("k1:" + "G" * 43 + "=\n")
    common = ["--database", f"sqlite:{data}/tend.sqlite", "--key-file", str(key)]
    today = datetime.now(timezone(timedelta(hours=8))).date()
    start, patients, dispenses, readings, totals = s6_generated_program(today)
    files = {"patients.csv": "患者编号,姓名\n" + "\n".join(patients) + "\n",
             "dispenses.csv": "患者编号,药品,药品类别,发药日期,用药天数,药房,记录编号\n" + "\n".join(dispenses) + "\n",
             "act.csv": "患者编号,指标,数值,单位,测量时间,记录编号\n" + "\n".join(readings) + "\n"}
    for name, text in files.items():
        (data / name).write_text(text, encoding="utf-8")
    for args in (["migrate"], ["program", "create", "--slug", "asthma", "--name", "哮喘依从 S6"],
                 ["user", "add", "--email", "ph@s6.test", "--password", "s6-password-123", "--program", "asthma", "--role", "pharmacist"],
                 ["import", "patients", str(data / "patients.csv"), "--program", "asthma"],
                 ["import", "dispenses", str(data / "dispenses.csv"), "--program", "asthma", "--source", "his"],
                 ["import", "observations", str(data / "act.csv"), "--program", "asthma", "--source", "import"]):
        result = run_cli(binary, *args, *common)
        assert result.returncode == 0, f"{args[:2]}: {result.stdout} {result.stderr}"
    env = dict(os.environ)
    env.pop("TEND_MASTER_KEY", None)
    env["TEND_DISPATCH_ENABLED"] = "false"
    server = subprocess.Popen([binary, "serve", *common, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    driver = None
    try:
        url = None
        deadline = time.time() + 30
        while time.time() < deadline and url is None:
            match = re.search(r"running at (http://\S+)", server.stdout.readline() or "")
            url = match.group(1) if match else None
        assert url, "serve did not print its URL"
        driver = make_driver(webdriver, Service)
        wait = WebDriverWait(driver, 30)
        sign_in(driver, wait, url, "ph@s6.test", "s6-password-123")
        driver.get(url + "/p/asthma")
        click_to_new_page(driver, wait, wait.until(conditions.element_to_be_clickable((By.ID, "nav-adherence"))))
        field = wait.until(conditions.presence_of_element_located((By.NAME, "outcome_start")))
        driver.execute_script("arguments[0].value = arguments[1]", field, start.isoformat())
        driver.find_element(By.NAME, "drug").send_keys("ics-laba")
        click_to_new_page(driver, wait, driver.find_element(By.ID, "report-run"))
        wait.until(conditions.presence_of_element_located((By.ID, "outcome-section")))
        shown = {name: driver.find_element(By.ID, name).text for name in
                 ("outcome-patients", "outcome-baseline-days", "outcome-follow-up-days", "outcome-poorly-controlled", "outcome-reassessed", "outcome-improved")}
        share = totals["improved"] / totals["reassessed"]
        counts = {"outcome-patients": "2000", "outcome-poorly-controlled": str(totals["poorly"]), "outcome-reassessed": str(totals["reassessed"])}
        assert {name: shown[name] for name in counts} == counts, (shown, counts)
        # One decimal, as the page rounds them.
        for name, value in (("outcome-baseline-days", totals["baseline"] / 2000), ("outcome-follow-up-days", totals["follow_up"] / 2000),
                            ("outcome-improved", share * 100)):
            assert re.fullmatch(r"\d+\.\d( %)?", shown[name]) and abs(float(shown[name].rstrip(" %")) - value) <= 0.0501, (name, shown[name], value)
        assert totals["follow_up"] > totals["baseline"], totals
        for chart in ("outcome-days-chart", "outcome-control-chart", "pdc-distribution"):
            assert driver.find_element(By.ID, chart).size["width"] > 200, chart
        OUT.mkdir(exist_ok=True)
        driver.execute_script("document.getElementById('outcome-section').scrollIntoView()")
        driver.save_screenshot(str(OUT / "s6-adherence-report.png"))
        # The CSV link, fetched with the browser's session.
        link = driver.find_element(By.ID, "report-csv").get_attribute("href")
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
        with urllib.request.urlopen(urllib.request.Request(link, headers={"Cookie": cookies}), timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/csv"), response.headers["Content-Type"]
            text = response.read().decode("utf-8-sig")
        import csv as csvlib
        import io
        rows = {(row["section"], row["metric"]): row["value"] for row in csvlib.DictReader(io.StringIO(text)) if row["group"] in ("", "all")}
        assert rows[("outcome", "outcome_patients")] == "2000", rows
        assert abs(float(rows[("outcome", "outcome_baseline_days")]) - totals["baseline"] / 2000) <= 0.0051, rows
        assert abs(float(rows[("outcome", "outcome_follow_up_days")]) - totals["follow_up"] / 2000) <= 0.0051, rows
        assert rows[("outcome", "outcome_improved")] == str(totals["improved"]), rows
        assert abs(float(rows[("outcome", "outcome_share_improved")]) - share) < 0.0001, rows
    finally:
        if driver:
            driver.quit()
        server.terminate()
        server.wait(timeout=15)


class DemoAPI:
    """The demo server's API with a bearer token made by `tend token create` on the demo's data."""

    def __init__(self, binary, data_dir, url, email):
        result = run_cli(binary, "token", "create", "--user", email, "--data-dir", data_dir)
        assert result.returncode == 0 and result.stdout.startswith("tend_"), result.stderr
        self.url, self.token = url, result.stdout.strip()

    def call(self, method, path, body=None, expect=(200, 201)):
        import urllib.error
        import urllib.request
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", "Accept-Language": "en"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        assert status in expect, f"{method} {path}: {status} {text}"
        return json.loads(text) if text else None


def post_form(url, fields):
    """POSTs a form-encoded body; returns (status, page)."""
    import urllib.error
    import urllib.parse
    import urllib.request
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def phone_driver(webdriver, Service):
    """Chromium emulating a 390x844 phone (meta viewport honoured, touch, 2x pixels)."""
    driver = make_driver(webdriver, Service)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    return driver


PHONE_WIDTH = 390


def phone_overflow(driver, what):
    """What sticks out past the right edge of a 390 px phone: [] when the page fits. (Mobile
    Chromium widens the layout viewport to the content, so the measure is against 390, not
    innerWidth.)"""
    wide = driver.execute_script("""
        const out = [];
        for (const e of document.querySelectorAll('body *')) {
            const r = e.getBoundingClientRect();
            if (r.width > 0 && r.right > arguments[0] + 0.5)
                out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className.replace(/ /g, '.') : '')
                         + ' ends at ' + Math.round(r.right) + 'px');
        }
        return out;""", PHONE_WIDTH)
    return [f"{what}: {item}" for item in wide]


# Shared by the S3 checks: the first makes the patients, the next two reuse its demo data.
S3 = {}


@check("s3: check-in through the binary — tend dispatch --now sends the form link; 2.7 on a phone opens an urgent alert with the on-call task, 5.6 nothing, two silent days a missing alert")
def s3_check_in_through_the_binary(binary, workdir):
    import datetime
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    data_dir = str(Path(workdir) / "demo-s3")
    S3.clear()
    with DemoServer(binary, data_dir) as demo:
        manager = DemoAPI(binary, data_dir, demo.url, "manager@tend.demo")
        admin = DemoAPI(binary, data_dir, demo.url, "admin@tend.demo")
        # The demo runs on the real clock (it has no --now) and so does enrolment: touchpoints
        # already past when a patient is enrolled are planned as skipped, and the demo's own
        # dispatcher sends whatever the real clock has reached. A camp starting tomorrow (Shanghai)
        # keeps every check-in ours to send with `tend dispatch --now`, and the form links it signs
        # are valid for the demo's real clock. (Later starts let the demo's 291 seeded campers
        # pile up more than the sweep's 1000 missing-data candidates; see the last S3 check.)
        shanghai = datetime.timezone(datetime.timedelta(hours=8))
        camp_start = datetime.datetime.now(shanghai).date() + datetime.timedelta(days=1)

        def at(days, clock):
            return f"{camp_start + datetime.timedelta(days=days)}T{clock}:00+08:00"

        def dispatch(now):
            result = subprocess.run([binary, "dispatch", "--now", now, "--data-dir", data_dir, "--public-url", demo.url],
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"dispatch --now {now}: {result.stderr}"
            return json.loads(result.stdout.strip().splitlines()[-1])

        def alerts(patient):
            return manager.call("GET", f"/api/v1/programs/gdm-camp/alerts?patient={patient}")["items"]

        def missing(patient):
            return [alert for alert in alerts(patient) if alert["rule"] == "missing.glucose-daily"]

        patients = {}
        for name in ("A", "B", "C"):
            created = manager.call("POST", "/api/v1/programs/gdm-camp/patients", {
                "name": f"控糖 E2E {name}", "channels": ["in_app"], "time_zone": "Asia/Shanghai", "tags": ["cohort=e2e-s3"]})
            patients[name] = created["id"]
            enrolled = manager.call("POST", "/api/v1/programs/gdm-camp/enrolments", {
                "patient_id": created["id"], "pathway": "s3-gdm-camp", "anchors": {"camp_start": camp_start.isoformat()}})
            assert enrolled["enrolled"] == 1, enrolled
        members = manager.call("GET", "/api/v1/programs/gdm-camp/members")["items"]
        on_call = next(member["user_id"] for member in members if member["email"] == "pharmacist@tend.demo")
        settings = admin.call("PUT", "/api/v1/programs/gdm-camp/triage/settings", {"on_call_staff_id": on_call})
        assert settings.get("on_call_staff_id") == on_call, settings
        S3.update(data_dir=data_dir, patients=patients, camp_start=camp_start, at=at)

        report = dispatch(at(0, "07:30"))
        assert report["claimed"] >= 3 and report["failed"] == 0, report
        links = {}
        for name, patient in patients.items():
            inbox = manager.call("GET", f"/api/v1/programs/gdm-camp/patients/{patient}/inbox")["items"]
            assert len(inbox) == 1, f"{name}'s portal inbox: {inbox}"
            match = re.search(r"(\S+/q/\S+)", inbox[0]["body"])
            assert match and match.group(1).startswith(demo.url + "/q/"), f"no form link for the demo in {inbox[0]['body']!r}"
            links[name] = match.group(1)

        # A answers 2.7 mmol/L on a phone.
        driver = phone_driver(webdriver, Service)
        try:
            wait = WebDriverWait(driver, 20)
            driver.get(links["A"])
            field = wait.until(conditions.presence_of_element_located((By.ID, "answer-fasting")))
            unit = Select(driver.find_element(By.ID, "unit-fasting"))
            assert [o.get_attribute("value") for o in unit.options] == ["mmol/L", "mg/dL"], [o.text for o in unit.options]
            assert unit.first_selected_option.get_attribute("value") == "mmol/L"
            S3["overflow"] = phone_overflow(driver, "the check-in form")
            OUT.mkdir(exist_ok=True)
            driver.save_screenshot(str(OUT / "s3-check-in-phone.png"))
            field.send_keys("2.7")
            click_to_new_page(driver, wait, driver.find_element(By.ID, "form-submit"))
            wait.until(conditions.presence_of_element_located((By.ID, "form-done")))
            urgent = driver.find_elements(By.ID, "form-urgent")
            assert urgent and urgent[0].is_displayed(), "2.7 mmol/L did not show the urgent notice"
            S3["overflow"] += phone_overflow(driver, "the done page")
            driver.save_screenshot(str(OUT / "s3-check-in-urgent-phone.png"))
        finally:
            driver.quit()
        raised = alerts(patients["A"])
        assert len(raised) == 1 and raised[0]["rule"] == "q.glucose-daily.hypoglycaemia" and raised[0]["priority"] == "urgent", raised
        tasks = manager.call("GET", f"/api/v1/programs/gdm-camp/tasks?patient={patients['A']}")["items"]
        assert [(t["kind"], t["priority"], t["status"], t.get("assignee_id")) for t in tasks] == \
            [("observation_alert", "urgent", "open", on_call)], f"A's open tasks: {tasks}"
        assert tasks[0]["id"] == raised[0]["task_id"], (tasks, raised)

        # B: nothing is refused silently, and 5.6 raises nothing.
        status, page = post_form(links["B"], {})
        assert status == 422 and 'id="questionnaire-form"' in page, f"an empty answer gave {status}"
        status, page = post_form(links["B"], {"fasting": "5.6"})
        assert status == 200 and 'id="form-done"' in page and 'id="form-urgent"' not in page, f"5.6 gave {status}"
        assert alerts(patients["B"]) == [], alerts(patients["B"])
        responses = manager.call("GET", f"/api/v1/programs/gdm-camp/patients/{patients['B']}/responses")["items"]
        assert [(r["questionnaire"], r["answers"].get("fasting"), r["source"]) for r in responses] == [("glucose-daily", 5.6, "link")], responses

        # C never answers. A day on, nobody is two days silent; two days on, only C is.
        dispatch(at(1, "07:31"))
        assert all(missing(patient) == [] for patient in patients.values()), {n: missing(p) for n, p in patients.items()}
        report = dispatch(at(2, "07:31"))
        assert report["missing_alerts"] >= 1, report
        silent = missing(patients["C"])
        assert len(silent) == 1 and silent[0]["priority"] == "high" and silent[0]["status"] == "open", silent
        assert missing(patients["A"]) == [] and missing(patients["B"]) == [], "a day-1 answer did not count: " + \
            json.dumps({"A": missing(patients["A"]), "B": missing(patients["B"])})


@check("s3: the check-in form and its done page fit a 390 px phone (nothing past the right edge)")
def s3_form_fits_phone(binary, workdir):
    assert "overflow" in S3, "needs the phone pages of the S3 check-in check"
    assert not S3["overflow"], "; ".join(S3["overflow"][:6]) + " (see e2e/out/s3-check-in-phone.png)"


@check("s3: patient page at laptop size — the glucose chart marks the 2.7 reading, the alerts list it, the responses list the check-in")
def s3_patient_page_chart(binary, workdir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import WebDriverWait

    assert S3.get("patients"), "needs the patients of the S3 check-in check"
    patient = S3["patients"]["A"]
    with DemoServer(binary, S3["data_dir"]) as demo:
        driver = make_driver(webdriver, Service)
        try:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
            wait = WebDriverWait(driver, 20)
            sign_in(driver, wait, demo.url, "manager@tend.demo", "tend-demo-2026")
            driver.get(f"{demo.url}/p/gdm-camp/patients/{patient}")
            wait.until(conditions.presence_of_element_located((By.ID, "responses-section")))
            charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart")
            assert charts, "the patient page has no chart"
            breaches = driver.find_elements(By.CSS_SELECTOR, "svg.chart .breach")
            assert breaches, "no out-of-range reading is marked on the chart"
            captions = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "figure.reading-chart figcaption")]
            assert any("2.7" in caption for caption in captions), captions
            listed = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#alerts li.urgent")]
            assert len(listed) == 1 and "3.9" in listed[0], f"the urgent alerts listed: {listed}"
            section = driver.find_element(By.ID, "responses-section")
            summaries = [s.text for s in section.find_elements(By.CSS_SELECTOR, "details.response summary")]
            assert any("Daily glucose check-in" in s or "每日血糖打卡" in s for s in summaries), summaries
            driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "readings-section"))
            OUT.mkdir(exist_ok=True)
            driver.save_screenshot(str(OUT / "s3-patient-chart-laptop.png"))
        finally:
            driver.quit()


@check("s3: a repeated missing-data sweep counts no silent check-in twice")
def s3_missing_sweep_counts_once(binary, workdir):
    # MissingCheckInSweep promises "a touchpoint is counted once". C (silent since day 1) has two
    # check-ins two days old at camp_start+3d; passes at one instant after that must not add more.
    assert S3.get("patients"), "needs the patients of the S3 check-in check"
    with DemoServer(binary, S3["data_dir"]) as demo:
        manager = DemoAPI(binary, S3["data_dir"], demo.url, "manager@tend.demo")
        counts = []
        for _ in range(3):
            result = subprocess.run([binary, "dispatch", "--now", S3["at"](3, "07:31"), "--data-dir", S3["data_dir"], "--public-url", demo.url],
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stderr
            alerts = manager.call("GET", f"/api/v1/programs/gdm-camp/alerts?patient={S3['patients']['C']}")["items"]
            counts.append([(a["breaches"], a["last_observation_id"]) for a in alerts if a["rule"] == "missing.glucose-daily"])
        assert counts[0] == counts[1] == counts[2], f"C's missing alert (breaches, last touchpoint) after each pass at one instant: {counts}"


def post_multipart(url, fields, files):
    """POSTs multipart/form-data (fields: [(name, value)], files: [(name, filename, content type, bytes)]);
    returns (status, page)."""
    import urllib.error
    import urllib.request
    boundary = "----tend-e2e-" + os.urandom(8).hex()
    body = b""
    for name, value in fields:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").encode() + str(value).encode() + b"\r\n"
    for name, filename, content_type, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                 f"Content-Type: {content_type}\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get_raw(url, token=None):
    """GETs `url` (with a bearer token if given); returns (status, content type, bytes)."""
    import urllib.error
    import urllib.request
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read()


def canvas_jpeg():
    """A small real JPEG (16x12) drawn on a canvas in headless Chromium."""
    import base64
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    driver = make_driver(webdriver, Service)
    try:
        url = driver.execute_script("""
            const c = document.createElement('canvas'); c.width = 16; c.height = 12;
            const g = c.getContext('2d'); g.fillStyle = '#f4f1e8'; g.fillRect(0, 0, 16, 12);
            g.fillStyle = '#c0392b'; g.fillRect(3, 3, 8, 4);
            return c.toDataURL('image/jpeg', 0.8);""")
    finally:
        driver.quit()
    data = base64.b64decode(url.split(",", 1)[1])
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9", f"not a JPEG: {data[:8]!r}…{data[-2:]!r}"
    return data


def demo_dispatch(binary, data_dir, url, now):
    """`tend dispatch --now` on the demo's data, signing links for the demo's URL; its report."""
    result = subprocess.run([binary, "dispatch", "--now", now, "--data-dir", data_dir, "--public-url", url],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"dispatch --now {now}: {result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def form_link(api, program, patient, url):
    """The /q/ link of the one portal-inbox message that carries one (other steps may have sent more)."""
    inbox = api.call("GET", f"/api/v1/programs/{program}/patients/{patient}/inbox")["items"]
    links = [match.group(1) for match in (re.search(r"(\S+/q/\S+)", message["body"]) for message in inbox) if match]
    assert len(links) == 1, f"the portal inbox has {len(links)} form links: {[message['body'] for message in inbox]}"
    assert links[0].startswith(url + "/q/"), f"the form link is not the demo's: {links[0]}"
    return links[0]


@check("s1: revisit form through the binary — tend dispatch --now sends the /q/ link; a non-image upload is refused (422, nothing kept); a multipart answer with a lab-report JPEG records attendance, WBC and hemoglobin; the photo is served byte for byte to its program only")
def s1_revisit_form_with_photo(binary, workdir):
    import datetime
    data_dir = str(Path(workdir) / "demo-s1")
    photo = canvas_jpeg()
    with DemoServer(binary, data_dir) as demo:
        manager = DemoAPI(binary, data_dir, demo.url, "manager@tend.demo")
        # The demo and enrolment run on the real clock (see the S3 check): a revisit three days
        # ahead (Shanghai) keeps the attended check (revisit+1d 12:00) ours to send.
        shanghai = datetime.timezone(datetime.timedelta(hours=8))
        revisit = datetime.datetime.now(shanghai).date() + datetime.timedelta(days=3)
        created = manager.call("POST", "/api/v1/programs/lung-followup/patients", {
            "name": "复诊 E2E 周", "channels": ["in_app"], "time_zone": "Asia/Shanghai", "tags": ["cohort=e2e-s1"]})
        patient = created["id"]
        enrolled = manager.call("POST", "/api/v1/programs/lung-followup/enrolments", {
            "patient_id": patient, "pathway": "s1-revisit", "anchors": {"revisit": revisit.isoformat()}})
        assert enrolled["enrolled"] == 1, enrolled
        report = demo_dispatch(binary, data_dir, demo.url, f"{revisit + datetime.timedelta(days=1)}T12:00:00+08:00")
        assert report["claimed"] >= 1, report
        link = form_link(manager, "lung-followup", patient, demo.url)
        page = urllib_get_text(link)
        assert 'id="questionnaire-form"' in page and "multipart/form-data" in page and 'name="report_photo"' in page, \
            "the revisit form is not a multipart form with a report_photo file field"

        def responses():
            return manager.call("GET", f"/api/v1/programs/lung-followup/patients/{patient}/responses")["items"]

        def observations():
            return manager.call("GET", f"/api/v1/programs/lung-followup/patients/{patient}/observations")["items"]

        fields = [("attended", "yes"), ("visit_date", revisit.isoformat()), ("wbc", "3.1"), ("hemoglobin", "118")]
        status, page = post_multipart(link, fields, [("report_photo", "report.jpg", "image/jpeg", b"<html><body>not a photo</body></html>")])
        assert status == 422 and 'id="questionnaire-form"' in page and 'id="form-done"' not in page, f"a non-image upload gave {status}"
        assert responses() == [] and observations() == [], f"the refused upload kept something: {responses()} {observations()}"

        status, page = post_multipart(link, fields, [("report_photo", "report.jpg", "image/jpeg", photo)])
        assert status == 200 and 'id="form-done"' in page, f"the answer with a JPEG gave {status}"
        found = responses()
        assert len(found) == 1 and found[0]["questionnaire"] == "revisit-form" and found[0]["source"] == "link", found
        answers = found[0]["answers"]
        assert answers.get("attended") is True and answers.get("wbc") == 3.1 and answers.get("hemoglobin") == 118, answers
        photo_id = answers.get("report_photo")
        assert isinstance(photo_id, str) and photo_id, f"report_photo is not a photo id: {answers}"
        codes = {observation["code"] for observation in observations()}
        assert {"loinc:6690-2", "loinc:718-7", "program:revisit-attended"} <= codes, sorted(codes)

        status, content_type, body = get_raw(f"{demo.url}/api/v1/programs/lung-followup/photos/{photo_id}", manager.token)
        assert status == 200 and body == photo, f"the photo came back as {status}, {len(body)} bytes (sent {len(photo)})"
        assert content_type == "image/jpeg", content_type
        status, _, _ = get_raw(f"{demo.url}/api/v1/programs/gdm-camp/photos/{photo_id}", manager.token)
        assert status == 404, f"the photo under gdm-camp gave {status}"
        status, _, _ = get_raw(f"{demo.url}/api/v1/programs/lung-followup/photos/{photo_id}")
        assert status == 401, f"the photo without a token gave {status}"


@check("segments: a reading over the line enters the segment within its request (tag set, why with the value); validate names line and column; tend segment list counts it")
def segments_through_the_binary(binary, workdir):
    import datetime
    broken = Path(workdir) / "broken-segment.yaml"
    broken.write_text("slug: high\nname: {zh: 偏高, en: High}\nrule: |\n  disease = T2DM\n    and last(glucose-fasting, 14) >= 7.0\n", encoding="utf-8")
    invalid = run_cli(binary, "segment", "validate", str(broken))
    assert invalid.returncode != 0 and "broken-segment.yaml:5: column 31:" in invalid.stderr, invalid.stdout + invalid.stderr
    data_dir = str(Path(workdir) / "demo-segments")
    with DemoServer(binary, data_dir) as demo:
        admin = DemoAPI(binary, data_dir, demo.url, "admin@tend.demo")
        saved = admin.call("POST", "/api/v1/programs/gdm-camp/segments", {
            "slug": "e2e-high", "name": {"zh": "空腹偏高", "en": "High fasting"},
            "rule": "tag(cohort = e2e-seg) and last(glucose-fasting, 14d) >= 7.0",
            "on_enter": [{"tag": "control=poor"}], "on_leave": [{"untag": "control=poor"}]})
        assert saved["entered"] == 0 and saved["segment"]["slides"] is True, saved
        patient = admin.call("POST", "/api/v1/programs/gdm-camp/patients", {"name": "分群 E2E", "tags": ["cohort=e2e-seg"]})["id"]
        at = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        admin.call("POST", "/api/v1/programs/gdm-camp/observations", {"observations": [
            {"patient_id": patient, "code": "glucose-fasting", "value": 8.4, "unit": "mmol/L", "effective_at": at}]})
        segment = admin.call("GET", "/api/v1/programs/gdm-camp/segments/e2e-high")
        assert segment["members"] == 1, segment
        tags = [tag["key"] + "=" + tag["value"] for tag in admin.call("GET", f"/api/v1/programs/gdm-camp/patients/{patient}")["tags"]]
        assert "control=poor" in tags, tags
        why = next(item for item in admin.call("GET", f"/api/v1/programs/gdm-camp/patients/{patient}/segments")["items"] if item["slug"] == "e2e-high")
        assert why["member"] and [clause["holds"] for clause in why["clauses"]] == [True, True], why
        assert why["clauses"][1]["value"] == "8.4 mmol/L", why
        preview = admin.call("POST", "/api/v1/programs/gdm-camp/segments/preview", {"rule": "tag(cohort = e2e-seg) and last(glucose-fasting) > 9"})
        assert preview["count"] == 0, preview
        listed = run_cli(binary, "segment", "list", "--program", "gdm-camp", "--data-dir", data_dir)
        assert listed.returncode == 0 and any(line.startswith("e2e-high\t1\t") for line in listed.stdout.splitlines()), listed.stdout + listed.stderr


def urllib_get_text(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.read().decode()


@check("s2: chemo side-effect check-in through the binary — 101.5 °F with chills answered on day 8 of the cycle is stored as 38.6 Cel and opens an urgent nadir-fever alert")
def s2_chemo_fever_in_nadir(binary, workdir):
    import datetime
    data_dir = str(Path(workdir) / "demo-s2")
    with DemoServer(binary, data_dir) as demo:
        manager = DemoAPI(binary, data_dir, demo.url, "manager@tend.demo")
        # The form takes the cycle day from the day the patient answers, on the demo's real
        # clock. A cycle that started 7 days ago (today is day 8) cannot be enrolled as such:
        # enrolment plans the day-7 check-in, already past, as skipped, and dispatch sends no
        # skipped touchpoint. So the cycle starts tomorrow, the check-in goes out with
        # `tend dispatch --now` at its day 7, and then the cycle start is moved back 7 days (the
        # sent check-in is kept; the form reads the enrolment's anchors when it is answered).
        shanghai = datetime.timezone(datetime.timedelta(hours=8))
        today = datetime.datetime.now(shanghai).date()
        planned_start = today + datetime.timedelta(days=1)
        created = manager.call("POST", "/api/v1/programs/lung-followup/patients", {
            "name": "化疗 E2E 孙", "channels": ["in_app"], "time_zone": "Asia/Shanghai", "tags": ["cohort=e2e-s2"]})
        patient = created["id"]
        enrolled = manager.call("POST", "/api/v1/programs/lung-followup/enrolments", {
            "patient_id": patient, "pathway": "s2-chemo-cycles", "anchors": {"cycle_start": planned_start.isoformat()}})
        assert enrolled["enrolled"] == 1 and len(enrolled["enrolment_ids"]) == 1, enrolled
        report = demo_dispatch(binary, data_dir, demo.url, f"{planned_start + datetime.timedelta(days=6)}T19:00:00+08:00")
        assert report["claimed"] >= 1, report
        link = form_link(manager, "lung-followup", patient, demo.url)

        cycle_start = today - datetime.timedelta(days=7)
        moved = manager.call("POST", f"/api/v1/programs/lung-followup/enrolments/{enrolled['enrolment_ids'][0]}/anchors",
                             {"anchor": "cycle_start", "date": cycle_start.isoformat()})
        assert moved["anchors"].get("cycle_start") == cycle_start.isoformat(), moved
        schedule = manager.call("GET", f"/api/v1/programs/lung-followup/patients/{patient}/schedule")["items"]
        first = [t["status"] for t in schedule if t["step_id"] == "side-effect-check" and t["occurrence"] == 1]
        assert first in (["sent"], ["delivered"]), f"the sent day-7 check-in after moving the cycle start: {first}"

        status, page = post_form(link, {"temperature": "101.5", "temperature__unit": "[degF]", "chills": "yes", "nausea": "mild",
                                        "vomiting": "none", "diarrhoea": "none", "mouth_sores": "no", "bleeding": "no"})
        assert status == 200 and 'id="form-done"' in page, f"the answer gave {status}"
        assert 'id="form-urgent"' in page, "a fever on day 8 did not show the urgent notice"
        temperatures = [(o["value"], o["unit"]) for o in manager.call("GET", f"/api/v1/programs/lung-followup/patients/{patient}/observations")["items"]
                        if o["code"] == "loinc:8310-5"]
        assert len(temperatures) == 1 and abs(temperatures[0][0] - 38.6) < 0.05 and temperatures[0][1] == "Cel", temperatures
        alerts = manager.call("GET", f"/api/v1/programs/lung-followup/alerts?patient={patient}")["items"]
        assert [(a["rule"], a["priority"], a["status"]) for a in alerts] == [("q.chemo-side-effects.fever-in-nadir", "urgent", "open")], \
            [(a["rule"], a["priority"], a["status"]) for a in alerts]


NOW = "2030-01-11T00:00:00+08:00"


@check("dispatch: killed with SIGKILL 20 times and restarted, every due touchpoint reaches the receiver, nothing stays claimed")
def dispatch_survives_kills(binary, workdir):
    import random
    import signal
    import sqlite3
    data = Path(workdir) / "kills"
    data.mkdir()
    key = data / "master.key"
    key.write_text("k1:" + "D" * 43 + "=\n")
    common = ["--database", f"sqlite:{data}/tend.sqlite", "--key-file", str(key)]
    receiver = Receiver(delay=0.1)
    try:
        program_with_due_touchpoints(binary, common, data, 400, receiver.url)
        env = dict(os.environ)
        env.pop("TEND_MASTER_KEY", None)
        dispatch = [binary, "dispatch", "--now", NOW, "--lease-seconds", "1", "--batch-size", "40", *common]
        rng = random.Random(7)
        kills = 0
        while kills < 20:
            process = subprocess.Popen(dispatch, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            time.sleep(rng.uniform(0.15, 0.9))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()
        for _ in range(20):
            time.sleep(1.1)  # leases of the killed runs end
            result = subprocess.run(dispatch, capture_output=True, text=True, env=env, timeout=300)
            assert result.returncode == 0, result.stderr
            if '"remaining":0' in result.stdout:
                break
        assert '"remaining":0' in result.stdout, result.stdout
        database = sqlite3.connect(str(data / "tend.sqlite"))
        due = {row[0] for row in database.execute("SELECT id FROM touchpoints WHERE due_at <= 1894291200000")}
        leased = database.execute("SELECT COUNT(*) FROM touchpoints WHERE lease_owner IS NOT NULL").fetchone()[0]
        unsent = database.execute("SELECT COUNT(*) FROM touchpoints WHERE status = 'scheduled' AND due_at <= 1894291200000").fetchone()[0]
        database.close()
        keys = [key for key, _ in receiver.received]
        assert len(due) == 4000, len(due)
        assert due <= set(keys), f"{len(due - set(keys))} due touchpoints never arrived"
        assert all(key == body_id for key, body_id in receiver.received), "a repeat carried another idempotency key"
        assert leased == 0 and unsent == 0, (leased, unsent)
        print(f"     {kills} kills; {len(keys)} requests for {len(due)} touchpoints ({len(keys) - len(set(keys))} repeats, all with the same key)")
    finally:
        receiver.close()


@check("dispatch: two processes on PostgreSQL share 10,000 due touchpoints, each key received exactly once")
def dispatch_two_processes_postgres(binary, workdir, postgres_url):
    if not postgres_url:
        print("     (skipped: no --postgres-url)")
        return
    schema = f"e2e_dispatch_{os.getpid()}"
    psql = subprocess.run(["psql", postgres_url, "-v", "ON_ERROR_STOP=1", "-c", f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"],
                          capture_output=True, text=True)
    assert psql.returncode == 0, psql.stderr
    data = Path(workdir) / "pg-dispatch"
    data.mkdir()
    key = data / "master.key"
    key.write_text("k1:" + "E" * 43 + "=\n")
    separator = "&" if "?" in postgres_url else "?"
    common = ["--database", f"{postgres_url}{separator}search_path={schema}", "--key-file", str(key)]
    receiver = Receiver()
    try:
        program_with_due_touchpoints(binary, common, data, 1000, receiver.url)
        env = dict(os.environ)
        env.pop("TEND_MASTER_KEY", None)
        dispatch = [binary, "dispatch", "--now", NOW, "--batch-size", "200", *common]
        started = time.time()
        processes = [subprocess.Popen(dispatch, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
        outputs = [process.communicate(timeout=600) for process in processes]
        elapsed = time.time() - started
        for process, (out, err) in zip(processes, outputs):
            assert process.returncode == 0, err
        import json
        reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
        keys = [key for key, _ in receiver.received]
        assert len(keys) == 10000 and len(set(keys)) == 10000, (len(keys), len(set(keys)))
        assert all(report["claimed"] > 0 for report in reports), f"one process did no work: {reports}"
        print(f"     {reports[0]['sent']} + {reports[1]['sent']} sent in {elapsed:.1f}s; no key twice")
    finally:
        receiver.close()
        subprocess.run(["psql", postgres_url, "-c", f"DROP SCHEMA IF EXISTS {schema} CASCADE"], capture_output=True)


class SMSReceiver:
    """A local SMS gateway: records the JSON bodies Tend posts ({"to": ..., "text": ...})."""

    def __init__(self):
        import http.server
        import threading
        receiver = self
        self.lock = threading.Lock()
        self.messages = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.messages.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def code_for(self, phone):
        with self.lock:
            for message in reversed(self.messages):
                if message.get("to") == phone:
                    match = re.search(r"(?<!\d)(\d{6})(?!\d)", message.get("text", ""))
                    if match:
                        return match.group(1)
        return None

    def close(self):
        self.server.shutdown()


PORTAL_PAGES = ("", "/schedule", "/inbox", "/record", "/share", "/consent")


@check("portal: on a 390 px phone a patient signs in with the SMS code, fills in the check-in from home and sees it on the chart; a daughter sees only her mother; S7 share with a passcode opens in a second browser and shows 'no longer shared' once revoked")
def portal_on_a_phone(binary, workdir):
    import datetime
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    data_dir = str(Path(workdir) / "demo-portal")
    sms = SMSReceiver()
    OUT.mkdir(exist_ok=True)
    try:
        with DemoServer(binary, data_dir) as demo:
            manager = DemoAPI(binary, data_dir, demo.url, "manager@tend.demo")
            result = run_cli(binary, "channel", "set", "--program", "gdm-camp", "--channel", "sms", "--url", sms.url, "--data-dir", data_dir)
            assert result.returncode == 0, result.stderr
            shanghai = datetime.timezone(datetime.timedelta(hours=8))
            camp_start = datetime.datetime.now(shanghai).date() + datetime.timedelta(days=1)
            patient = manager.call("POST", "/api/v1/programs/gdm-camp/patients", {
                "name": "门户 E2E 患者", "phone": "13812345601", "channels": ["in_app"], "time_zone": "Asia/Shanghai"})["id"]
            mother = manager.call("POST", "/api/v1/programs/gdm-camp/patients", {
                "name": "门户 E2E 母亲", "phone": "13812345602", "channels": ["in_app"], "time_zone": "Asia/Shanghai",
                "caregivers": [{"name": "女儿", "relation": "女儿", "phone": "13812345603"}]})["id"]
            enrolled = manager.call("POST", "/api/v1/programs/gdm-camp/enrolments", {
                "patient_id": patient, "pathway": "s3-gdm-camp", "anchors": {"camp_start": camp_start.isoformat()}})
            assert enrolled["enrolled"] == 1, enrolled
            result = subprocess.run([binary, "dispatch", "--now", f"{camp_start}T07:30:00+08:00", "--data-dir", data_dir, "--public-url", demo.url],
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stderr

            def sign_in(driver, wait, phone):
                driver.get(demo.url + "/portal/p/gdm-camp")
                wait.until(conditions.presence_of_element_located((By.ID, "portal-phone"))).send_keys(phone)
                click_to_new_page(driver, wait, driver.find_element(By.ID, "portal-send-code"))
                try:
                    field = wait.until(conditions.presence_of_element_located((By.ID, "portal-code")))
                except Exception:
                    raise AssertionError(f"no code field after asking for a code: {driver.current_url} "
                                         + " ".join(re.findall(r'id="portal-(?:error|notice)"[^<]*', driver.page_source)))
                code = sms.code_for(phone)
                assert code, f"no code reached the SMS receiver for {phone}: {sms.messages}"
                field.send_keys(code)
                click_to_new_page(driver, wait, driver.find_element(By.ID, "portal-submit-code"))
                wait.until(conditions.presence_of_element_located((By.ID, "portal-who")))

            overflow = []
            driver = phone_driver(webdriver, Service)
            try:
                wait = WebDriverWait(driver, 20)
                for lang, suffix in (("zh-Hans", "zh"), ("en", "en")):
                    driver.get(f"{demo.url}/portal/p/gdm-camp?lang={lang}")
                    wait.until(conditions.presence_of_element_located((By.ID, "portal-phone")))
                    overflow += phone_overflow(driver, f"the sign-in page ({lang})")
                    driver.save_screenshot(str(OUT / f"portal-sign-in-{suffix}.png"))
                sign_in(driver, wait, "13812345601")
                home = driver.current_url.split("?")[0]
                assert home.endswith(f"/portal/p/gdm-camp/{patient}"), driver.current_url
                # Every page, in Chinese (the patient's language) and in English, fits the phone.
                for lang in ("zh-Hans", "en"):
                    for page in PORTAL_PAGES:
                        driver.get(f"{home}{page}?lang={lang}")
                        wait.until(conditions.presence_of_element_located((By.ID, "portal-who")))
                        overflow += phone_overflow(driver, f"portal{page or '/home'} ({lang})")
                        name = (page.strip("/") or "home")
                        driver.save_screenshot(str(OUT / f"portal-{name}-{'zh' if lang.startswith('zh') else 'en'}.png"))
                # Today's check-in, from home.
                driver.get(home)
                fill = wait.until(conditions.presence_of_element_located((By.CSS_SELECTOR, "#portal-questionnaires a.portal-action")))
                click_to_new_page(driver, wait, fill)
                wait.until(conditions.presence_of_element_located((By.ID, "answer-fasting"))).send_keys("5.9")
                click_to_new_page(driver, wait, driver.find_element(By.ID, "form-submit"))
                wait.until(conditions.presence_of_element_located((By.ID, "form-done")))
                driver.get(home + "/record")
                chart = wait.until(conditions.presence_of_element_located((By.CSS_SELECTOR, "#portal-readings figure.reading-chart svg")))
                assert chart.is_displayed()
                assert "5.9" in driver.find_element(By.ID, "portal-readings").text, driver.find_element(By.ID, "portal-readings").text
                driver.save_screenshot(str(OUT / "portal-record-after-check-in-zh.png"))
                driver.get(home)
                assert not driver.find_elements(By.CSS_SELECTOR, "#portal-questionnaires a.portal-action"), "the answered check-in is still due"

                # S7: a share with a passcode, opened in a second browser, then revoked.
                driver.get(home + "/share")
                Select(wait.until(conditions.presence_of_element_located((By.ID, "portal-share-hours")))).select_by_value("72")
                driver.find_element(By.ID, "portal-share-passcode").send_keys("2468")
                click_to_new_page(driver, wait, driver.find_element(By.ID, "portal-share-create"))
                url = wait.until(conditions.presence_of_element_located((By.ID, "portal-share-url"))).get_attribute("href")
                assert "/portal/s/" in url and patient not in url, url
                assert driver.find_elements(By.CSS_SELECTOR, "#portal-share-qr svg path"), "no QR code"
                overflow += phone_overflow(driver, "the share page with its QR code")
                driver.save_screenshot(str(OUT / "portal-share-created-zh.png"))
                doctor = phone_driver(webdriver, Service)
                try:
                    doctor_wait = WebDriverWait(doctor, 20)
                    # In the patient's language, then in English (the language carried through the passcode form).
                    for lang, suffix in (("zh-Hans", "zh"), ("en", "en")):
                        doctor.get(f"{url}?lang={lang}")
                        doctor_wait.until(conditions.presence_of_element_located((By.ID, "portal-passcode-input")))
                        doctor.save_screenshot(str(OUT / f"portal-passcode-{suffix}.png"))
                        doctor.find_element(By.ID, "portal-passcode-input").send_keys("2468")
                        click_to_new_page(doctor, doctor_wait, doctor.find_element(By.ID, "portal-passcode-submit"))
                        doctor_wait.until(conditions.presence_of_element_located((By.ID, "portal-readings")))
                        assert doctor.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang, doctor.find_element(By.TAG_NAME, "html").get_attribute("lang")
                        assert "5.9" in doctor.find_element(By.ID, "portal-readings").text
                        assert not doctor.find_elements(By.CSS_SELECTOR, "form[action*='/portal/p/']"), "the shared view has a form that acts"
                        assert not doctor.find_elements(By.CSS_SELECTOR, "nav.portal-tabs"), "the shared view has the patient's navigation"
                        overflow += phone_overflow(doctor, f"the shared view ({lang})")
                        doctor.save_screenshot(str(OUT / f"portal-shared-view-{suffix}.png"))
                    driver.get(home + "/share")
                    opened = wait.until(conditions.presence_of_element_located((By.CSS_SELECTOR, "#portal-shares li .share-opened"))).text
                    assert re.search(r"[:：]\s*2\b", opened), f"the patient does not see the two openings: {opened!r}"
                    click_to_new_page(driver, wait, driver.find_element(By.CSS_SELECTOR, "#portal-shares li .portal-share-revoke"))
                    for lang, suffix in (("zh-Hans", "zh"), ("en", "en")):
                        doctor.get(f"{url}?lang={lang}")
                        doctor_wait.until(conditions.presence_of_element_located((By.ID, "portal-no-longer-shared")))
                        doctor.save_screenshot(str(OUT / f"portal-no-longer-shared-{suffix}.png"))
                finally:
                    doctor.quit()
            finally:
                driver.quit()

            # The daughter signs in with her own phone and reaches only her mother.
            daughter = phone_driver(webdriver, Service)
            try:
                wait = WebDriverWait(daughter, 20)
                sign_in(daughter, wait, "13812345603")
                assert daughter.current_url.split("?")[0].endswith(f"/portal/p/gdm-camp/{mother}"), daughter.current_url
                who = daughter.find_element(By.ID, "portal-who").text
                assert "门户 E2E 母亲" in who and "女儿" in who, who
                daughter.save_screenshot(str(OUT / "portal-caregiver-home-zh.png"))
                daughter.get(f"{demo.url}/portal/p/gdm-camp/{patient}")
                assert "门户 E2E 患者" not in daughter.page_source, "the daughter reached another patient"
                daughter.get(f"{demo.url}/p/gdm-camp/patients/{mother}")
                assert "/login" in daughter.current_url, f"a portal session reached a staff page: {daughter.current_url}"
            finally:
                daughter.quit()
            assert not overflow, "; ".join(overflow[:6])
    finally:
        sms.close()


def click_to_new_page(driver, wait, element):
    """Clicks something that loads a new page and waits until the old page is gone, so no
    later lookup can find an element of the page being replaced."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions

    from selenium.common.exceptions import WebDriverException

    old_page = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(_):
        # Chromium sometimes answers a lookup of a node of the replaced page with an inspector
        # error ("Node with given id does not belong to the document") instead of a stale-element
        # one: both mean the old page is gone.
        try:
            old_page.is_enabled()
            return False
        except WebDriverException:
            return True

    wait.until(replaced)


def sign_in(driver, wait, url, email, password, start="/login"):
    """Signs in through the login form; returns the program switcher once the console shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as conditions

    driver.get(url + start)
    wait.until(conditions.presence_of_element_located((By.ID, "email")))
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    return wait.until(conditions.presence_of_element_located((By.ID, "program-switcher")))


def make_driver(webdriver, Service):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=en-US"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=".build/debug/tend")
    parser.add_argument("--postgres-url", default=os.environ.get("TEND_TEST_POSTGRES_URL"))
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only the checks whose names contain TEXT (repeatable)")
    args = parser.parse_args()
    ONLY.extend(args.only)
    binary = str(Path(args.binary).resolve())
    # The webhook receivers these checks start live on this machine; outside this allow-list
    # channels may not reach loopback or private addresses (docs/operations.md).
    os.environ["TEND_OUTBOUND_ALLOW"] = "127.0.0.1,localhost"
    workdir = tempfile.mkdtemp(prefix="tend-e2e-")
    try:
        serve_unreachable_postgres(binary, workdir)
        serve_without_key(binary, workdir)
        serve_bad_port(binary, workdir)
        cli_on_postgres(binary, workdir, args.postgres_url)
        cli_import_and_rotate(binary, workdir)
        cli_observations_and_questionnaires(binary, workdir)
        cli_adherence_pdc(binary, workdir)
        s5_refills_through_the_binary(binary, workdir)
        s6_report_in_the_browser(binary, workdir)
        browser_login(binary, workdir)
        browser_patient_edit(binary, workdir)
        browser_reschedule(binary, workdir)
        browser_today(binary, workdir)
        browser_inbox(binary, workdir)
        dispatch_s1_by_now(binary, workdir)
        s1_revisit_form_with_photo(binary, workdir)
        segments_through_the_binary(binary, workdir)
        s2_chemo_fever_in_nadir(binary, workdir)
        s3_check_in_through_the_binary(binary, workdir)
        s3_form_fits_phone(binary, workdir)
        s3_patient_page_chart(binary, workdir)
        s3_missing_sweep_counts_once(binary, workdir)
        portal_on_a_phone(binary, workdir)
        dispatch_survives_kills(binary, workdir)
        dispatch_two_processes_postgres(binary, workdir, args.postgres_url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    passed = sum(1 for _, ok, _ in results if ok)
    failed = len(results) - passed
    print(f"e2e: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
