"""Open311 GeoReport v2 over a real server: the service list and definitions, posting and
reading requests in JSON and XML, errors in the standard's form, personal fields never shown;
and NYC 311's requests posted one by one and read back field by field."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from casework import Actor
from casework.transfer.nyc311 import BOROUGHS, CHANNELS

from .support import DATA, api_token, real_data, running_service

INTAKE = Actor("app-311", roles=["intake"])
HANDLER = Actor("wang", roles=["handler", "assessor", "dispatcher"])
V2 = "/open311/v2"
REQUEST = {"service_code": "petition", "lat": "22.7312", "long": "114.0569",
           "address_string": "12 Guanlan Avenue", "description": "The cover is missing",
           "media_url": "https://example.org/cover.jpg", "first_name": "Xiuying",
           "last_name": "Liu", "phone": "13912345678", "attribute[title]": "Manhole cover",
           "attribute[location]": "guanlan/guancheng"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with running_service(url) as base:
        yield base, url


def open311(base: str, url: str, actor: Actor = INTAKE) -> httpx.Client:
    return httpx.Client(base_url=base + V2, timeout=30,
                        headers={"Authorization": f"Bearer {api_token(url, actor)}"})


def assert_open311_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    if response.url.path.endswith(".xml"):
        root = ET.fromstring(response.text)
        assert root.tag == "errors" and root.find("error/code").text == str(status)
        return root.find("error/description").text
    [error] = response.json()
    assert error["code"] == status and error["description"]
    return error["description"]


def test_services_and_their_definition(served: tuple[str, str]) -> None:
    base, _ = served
    [service] = httpx.get(f"{base}{V2}/services.json").json()
    assert service["service_code"] == "petition" and service["type"] == "realtime"
    assert service["metadata"] is True and "noise" in service["keywords"].split(",")
    xml = ET.fromstring(httpx.get(f"{base}{V2}/services.xml").text)
    assert [s.find("service_code").text for s in xml.findall("service")] == ["petition"]
    definition = httpx.get(f"{base}{V2}/services/petition.json").json()
    attributes = {a["code"]: a for a in definition["attributes"]}
    assert set(attributes) == {"channel", "title", "location", "external_id"}  # nothing personal
    assert attributes["title"]["required"] is True and attributes["title"]["datatype"] == "string"
    assert attributes["channel"]["required"] is False  # the service's default: online
    assert {"key": "hotline", "name": "hotline"} in attributes["channel"]["values"]
    assert [a["order"] for a in definition["attributes"]] == [1, 2, 3, 4]
    xml = ET.fromstring(httpx.get(f"{base}{V2}/services/petition.xml").text)
    assert xml.tag == "service_definition"
    assert len(xml.findall("attributes/attribute")) == 4
    assert_open311_error(httpx.get(f"{base}{V2}/services/parking.json"), 404)
    assert_open311_error(httpx.get(f"{base}{V2}/services/parking.xml"), 404)
    assert_open311_error(httpx.get(f"{base}{V2}/services.json",
                                   params={"jurisdiction_id": "paris"}), 404)
    assert httpx.get(f"{base}{V2}/services.json",
                     params={"jurisdiction_id": "guanlan"}).status_code == 200


def test_post_a_request_and_read_it_back_without_personal_fields(
        served: tuple[str, str]) -> None:
    base, url = served
    api = open311(base, url)
    posted = api.post("/requests.json", data=REQUEST)
    assert posted.status_code == 200, posted.text
    [receipt] = posted.json()
    request_id = receipt["service_request_id"]
    assert receipt["service_notice"].startswith("The subdistrict")
    [request] = api.get(f"/requests/{request_id}.json").json()
    assert request | {"requested_datetime": None, "updated_datetime": None} == {
        "service_request_id": request_id, "status": "open", "status_notes": "collected",
        "service_name": "Resident petition (群众诉求)", "service_code": "petition",
        "description": "The cover is missing", "agency_responsible": None,
        "service_notice": receipt["service_notice"], "requested_datetime": None,
        "updated_datetime": None, "expected_datetime": None,
        "address": "12 Guanlan Avenue", "address_id": None, "zipcode": None,
        "lat": 22.7312, "long": 114.0569, "media_url": "https://example.org/cover.jpg"}
    assert datetime.fromisoformat(request["requested_datetime"]).tzinfo is not None
    # The resident's name and phone are on the case, encrypted, and never in Open311.
    case = httpx.get(f"{base}/cases/{request_id}",
                     headers=api.headers).json()["fields"]
    assert (case["petitioner"], case["phone"], case["channel"]) == (
        "Xiuying Liu", "13912345678", "online")
    for form in ("/requests.json", "/requests.xml", f"/requests/{request_id}.xml"):
        text = api.get(form).text
        assert request_id in text
        assert "Xiuying" not in text and "13912345678" not in text
    xml = ET.fromstring(api.get(f"/requests/{request_id}.xml").text)
    assert xml.tag == "service_requests"
    [item] = xml.findall("request")
    assert {child.tag: child.text for child in item} == {
        key: (None if value is None else str(value)) for key, value in request.items()}


def test_status_follows_the_stage_and_the_filters_select(served: tuple[str, str]) -> None:
    base, url = served
    api = open311(base, url)
    first = api.post("/requests.json", data=REQUEST).json()[0]["service_request_id"]
    second = api.post("/requests.json", data=REQUEST).json()[0]["service_request_id"]
    cases = httpx.Client(base_url=base, timeout=30,
                         headers={"Authorization": f"Bearer {api_token(url, HANDLER)}"})
    cases.post(f"/cases/{first}/triggers/reject", json={"fields": {"reason": "not ours"}})
    closed = api.get("/requests.json", params={"status": "closed"}).json()
    assert [(r["service_request_id"], r["status"], r["status_notes"]) for r in closed] == [
        (first, "closed", "rejected")]
    assert [r["service_request_id"] for r in api.get(
        "/requests.json", params={"status": "open"}).json()] == [second]
    both = api.get("/requests.json", params={"service_request_id": f"{first},{second}"})
    assert {r["service_request_id"] for r in both.json()} == {first, second}
    assert api.get("/requests.json", params={"start_date": "2001-01-01T00:00:00Z",
                                             "end_date": "2001-02-01T00:00:00Z"}).json() == []
    assert_open311_error(api.get("/requests.json", params={
        "start_date": "2001-01-01T00:00:00Z", "end_date": "2002-01-01T00:00:00Z"}), 400)
    assert_open311_error(api.get("/requests.json", params={"status": "pending"}), 400)
    assert_open311_error(api.get("/requests.xml", params={"service_code": "parking"}), 404)


def test_open311_errors(served: tuple[str, str]) -> None:
    base, url = served
    api = open311(base, url)
    assert_open311_error(httpx.post(f"{base}{V2}/requests.json", data=REQUEST), 401)
    token = api_token(url, INTAKE)
    by_key = httpx.post(f"{base}{V2}/requests.xml", data=REQUEST | {"api_key": token})
    assert by_key.status_code == 200 and ET.fromstring(by_key.text).tag == "service_requests"
    assert_open311_error(api.post("/requests.json", data=REQUEST | {"lat": "95"}), 400)
    assert "attribute" in assert_open311_error(
        api.post("/requests.xml", data=REQUEST | {"attribute[colour]": "red"}), 400)
    assert_open311_error(api.post("/requests.json", data=REQUEST | {"service_code": "x"}),
                         404)
    assert_open311_error(api.post("/requests.json", json=REQUEST), 415)
    assert_open311_error(api.get("/requests/6d1e8b0e-0000-4000-8000-000000000000.json"), 404)
    assert_open311_error(api.get("/requests/nope.xml"), 404)
    grid = open311(base, url, Actor("chen", roles=["intake"], unit="guanlan/xinlan"))
    assert_open311_error(grid.post("/requests.json", data=REQUEST), 403)
    again = api.post("/requests.json", data=REQUEST, headers={"Idempotency-Key": "r1"})
    replay = api.post("/requests.json", data=REQUEST, headers={"Idempotency-Key": "r1"})
    assert replay.json() == again.json() and replay.headers["idempotent-replayed"] == "true"


# NYC 311: the city's own requests through the standard ----------------------------------

def nyc_form(row: dict[str, str]) -> dict[str, str]:
    """A request as a 311 app would post it."""
    form = {"service_code": "petition", "jurisdiction_id": "nyc",
            "description": row["Complaint Type"], "address_string": row["Incident Address"],
            "attribute[title]": row["Descriptor"] or row["Complaint Type"],
            "attribute[external_id]": row["Unique Key"],
            "attribute[channel]": CHANNELS.get(row["Open Data Channel Type"].upper(), "other")}
    if row["Latitude"] and row["Longitude"]:
        form |= {"lat": row["Latitude"], "long": row["Longitude"]}
    if row["Borough"].upper() in BOROUGHS:
        form["attribute[location]"] = BOROUGHS[row["Borough"].upper()]
    return form


@real_data
@pytest.mark.slow
def test_the_nyc_311_sample_read_back_field_by_field(served: tuple[str, str]) -> None:
    base, url = served
    api = open311(base, url, Actor("nyc-311", roles=["intake"]))
    with (DATA / "311_nyc_sample.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) > 900
    posted: dict[str, dict[str, str]] = {}
    for row in rows:
        response = api.post("/requests.json", data=nyc_form(row))
        assert response.status_code == 200, (row["Unique Key"], response.text)
        posted[response.json()[0]["service_request_id"]] = row
    assert len(posted) == len(rows)
    for request_id, row in posted.items():
        [request] = api.get(f"/requests/{request_id}.json").json()
        assert request["service_request_id"] == request_id
        assert request["service_code"] == "petition" and request["status"] == "open"
        assert request["description"] == row["Complaint Type"].strip()
        assert request["address"] == (row["Incident Address"].strip() or None)
        if row["Latitude"]:
            assert request["lat"] == float(row["Latitude"])
            assert request["long"] == float(row["Longitude"])
        else:
            assert request["lat"] is None and request["long"] is None
        assert request["media_url"] is None and request["agency_responsible"] is None
    # The listing in both forms, a page of ids at a time, says the same.
    ids = list(posted)
    for start in range(0, len(ids), 200):
        chunk = ",".join(ids[start:start + 200])
        listed = api.get("/requests.json", params={"service_request_id": chunk}).json()
        xml = ET.fromstring(api.get("/requests.xml",
                                    params={"service_request_id": chunk}).text)
        assert [r["service_request_id"] for r in listed] == ids[start:start + 200]
        assert [{c.tag: c.text for c in item} for item in xml.findall("request")] == [
            {k: (None if v is None else str(v)) for k, v in r.items()} for r in listed]
