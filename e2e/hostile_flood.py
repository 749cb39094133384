"""A sign-in flood (issue 11, acceptance 3): 200 wrong-password POST /login through the console
form, 20 at a time, while GET /api/v1/me is timed with a bearer token; then whether 429 with
Retry-After appeared, and whether the right password works after the throttle window."""
import os
import re
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from hostile_lib import DEMO_PASSWORD, percentile, request

TARGET_P99_MS = 50.0


def login_attempt(server, email, password):
    """GET /login for the CSRF cookie and field, then POST the form. Returns the POST's response."""
    page = request(server, "GET", "/login", timeout=30)
    cookie = re.search(r"tend_login_csrf=([^;]+)", page.header("set-cookie") or "")
    field = re.search(rb'name="csrf" value="([^"]+)"', page.body)
    if not cookie or not field:
        return page
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf": field.group(1).decode()})
    return request(server, "POST", "/login", form, content_type="application/x-www-form-urlencoded",
                   cookies={"tend_login_csrf": cookie.group(1)}, timeout=60)


def signed_in(response):
    return response.status in (302, 303) and "tend_session=" in " ".join(response.headers.get("set-cookie", []))


def flood(ctx, server, token, email="manager@tend.demo", attempts=200, concurrency=20, max_wait=150):
    rec = ctx.rec
    rec.section = "sign-in flood"
    print("\n== sign-in flood", flush=True)
    result = {"attempts": attempts, "concurrency": concurrency, "load_average_before": round(os.getloadavg()[0], 2)}

    def time_me():
        response = request(server, "GET", "/api/v1/me", token=token, timeout=30)
        return response.elapsed * 1000, response.status

    for _ in range(10):  # warm the server up: the first answers after a start are slower
        time_me()
    baseline = [time_me()[0] for _ in range(50)]
    result["baseline_p50_ms"] = percentile(baseline, 0.5)
    result["baseline_p99_ms"] = percentile(baseline, 0.99)

    timings, statuses = [], []
    stop = threading.Event()

    def timer():
        while not stop.is_set():
            elapsed, status = time_me()
            timings.append(elapsed)
            statuses.append(status)
            time.sleep(0.025)

    # Four timers, each sending one GET /api/v1/me at a time, so one stalled answer does not
    # stop the sampling.
    timer_threads = [threading.Thread(target=timer, daemon=True) for _ in range(4)]
    for thread in timer_threads:
        thread.start()
    started = time.time()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        responses = list(pool.map(lambda index: login_attempt(server, email, f"wrong-password-{index}"), range(attempts)))
    flood_seconds = time.time() - started
    stop.set()
    for thread in timer_threads:
        thread.join(30)
    crashed = server.check()
    if crashed:
        rec.fail("crash", "POST /login", f"{attempts} wrong passwords, {concurrency} at a time", crashed, "the server still answering")
        return result

    codes = {}
    for response in responses:
        codes[response.status] = codes.get(response.status, 0) + 1
    limited = [r for r in responses if r.status == 429]
    retry_after = [r.header("retry-after") for r in limited if r.header("retry-after")]
    result.update(flood_seconds=round(flood_seconds, 1), statuses=codes, me_samples=len(timings),
                  me_p50_ms=percentile(timings, 0.5), me_p99_ms=percentile(timings, 0.99), me_max_ms=max(timings) if timings else None,
                  me_non_200=sum(1 for s in statuses if s != 200), retry_after=sorted(set(retry_after))[:5])
    print(f"   {attempts} attempts in {flood_seconds:.1f}s: {codes}; GET /me p50 {result['me_p50_ms']:.1f} ms, "
          f"p99 {result['me_p99_ms']:.1f} ms, max {result['me_max_ms']:.1f} ms over {len(timings)} requests "
          f"(baseline p99 {result['baseline_p99_ms']:.1f} ms; 1-minute load average {result['load_average_before']})", flush=True)

    if any(status and status >= 500 for status in codes):
        rec.fail("5xx", "POST /login", "wrong-password flood", str(codes), "401 then 429")
    if result["me_non_200"]:
        rec.fail("throttle", "GET /api/v1/me", "during the flood", f"{result['me_non_200']} answers were not 200", "200 throughout")
    if result["me_p99_ms"] is None or result["me_p99_ms"] >= TARGET_P99_MS:
        rec.fail("throttle", "GET /api/v1/me", f"p99 during {attempts} wrong-password logins, {concurrency} at a time",
                 f"p99 {result['me_p99_ms']:.1f} ms (p50 {result['me_p50_ms']:.1f} ms, max {result['me_max_ms']:.1f} ms; "
                 f"{result['baseline_p99_ms']:.1f} ms before the flood; load average {result['load_average_before']})",
                 f"p99 < {TARGET_P99_MS:.0f} ms")
    else:
        rec.ok()
    if not limited:
        rec.fail("throttle", "POST /login", f"{attempts} wrong passwords for one account from one address",
                 f"no 429 (statuses {codes})", "a growing delay, then 429 with Retry-After")
    elif not retry_after:
        rec.fail("throttle", "POST /login", "429 answers", "429 without Retry-After", "429 with Retry-After")
    else:
        rec.ok()

    during = login_attempt(server, email, DEMO_PASSWORD)
    result["right_password_during"] = during.status
    wait = 0
    if retry_after:
        try:
            wait = max(int(float(value)) for value in retry_after)
        except ValueError:
            wait = max_wait
    result["throttle_window_s"] = wait
    if wait > max_wait:
        rec.fail("throttle", "POST /login", "right password after the throttle window",
                 f"Retry-After {wait} s is longer than this suite waits ({max_wait} s)", f"a window of at most {max_wait} s")
        return result
    if wait:
        time.sleep(wait + 1)
    after = login_attempt(server, email, DEMO_PASSWORD)
    result["right_password_after"] = after.status
    if signed_in(after):
        rec.ok()
    else:
        rec.fail("throttle", "POST /login", f"right password {wait + 1} s after the flood", after.describe(), "signed in (303 with a session)")
    other = login_attempt(server, "pharmacist@tend.demo", DEMO_PASSWORD)
    result["other_account_after"] = other.status
    print(f"   right password during the flood: {during.status}; after {wait + 1} s: {after.status}; "
          f"another account: {other.status}", flush=True)
    return result
