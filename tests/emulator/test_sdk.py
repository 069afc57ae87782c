"""The real msgraph-sdk against the emulator: only the base URL differs from production.

These tests also pin down the SDK pitfalls of graph-semantics §9 that the emulator must expose:
the retry handler re-sends POSTs whose answer was lost (duplicates), and LargeFileUploadTask sends
the bearer token to pre-authenticated upload URLs (401).
"""

from __future__ import annotations

import asyncio
import functools
import io
import time

import pytest

pytest.importorskip("msgraph")

from azure.core.credentials import AccessToken  # noqa: E402
from kiota_abstractions.api_error import APIError  # noqa: E402
from kiota_abstractions.authentication import AnonymousAuthenticationProvider  # noqa: E402
from kiota_abstractions.base_request_configuration import RequestConfiguration  # noqa: E402
from kiota_authentication_azure.azure_identity_authentication_provider import \
    AzureIdentityAuthenticationProvider  # noqa: E402
from kiota_http.middleware.options import RetryHandlerOption  # noqa: E402
from msgraph import GraphRequestAdapter, GraphServiceClient  # noqa: E402
from msgraph.generated.models.attachment_item import AttachmentItem  # noqa: E402
from msgraph.generated.models.attachment_type import AttachmentType  # noqa: E402
from msgraph.generated.models.attendee import Attendee  # noqa: E402
from msgraph.generated.models.column_definition import ColumnDefinition  # noqa: E402
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone  # noqa: E402
from msgraph.generated.models.email_address import EmailAddress  # noqa: E402
from msgraph.generated.models.event import Event  # noqa: E402
from msgraph.generated.models.field_value_set import FieldValueSet  # noqa: E402
from msgraph.generated.models.file_attachment import FileAttachment  # noqa: E402
from msgraph.generated.models.list_ import List_  # noqa: E402
from msgraph.generated.models.list_info import ListInfo  # noqa: E402
from msgraph.generated.models.list_item import ListItem  # noqa: E402
from msgraph.generated.models.mail_folder import MailFolder  # noqa: E402
from msgraph.generated.models.message import Message  # noqa: E402
from msgraph.generated.models.o_data_errors.o_data_error import ODataError  # noqa: E402
from msgraph.generated.models.single_value_legacy_extended_property import \
    SingleValueLegacyExtendedProperty  # noqa: E402
from msgraph.generated.models.text_column import TextColumn  # noqa: E402
from msgraph.generated.models.todo_task import TodoTask  # noqa: E402
from msgraph.generated.models.todo_task_list import TodoTaskList  # noqa: E402
from msgraph.generated.sites.item.lists.item.items.items_request_builder import ItemsRequestBuilder  # noqa: E402
from msgraph.generated.users.item.messages.item.attachments.create_upload_session.\
    create_upload_session_post_request_body import CreateUploadSessionPostRequestBody  # noqa: E402
from msgraph.generated.users.item.messages.item.message_item_request_builder import \
    MessageItemRequestBuilder  # noqa: E402
from msgraph.generated.users.item.messages.messages_request_builder import MessagesRequestBuilder  # noqa: E402
from msgraph_core import GraphClientFactory  # noqa: E402
from msgraph_core.tasks.large_file_upload import LargeFileUploadTask  # noqa: E402

from notes2m365.emulator import EmulatorConfig, FaultConfig  # noqa: E402

from .conftest import JANE, JOHN  # noqa: E402

KEY = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name NotesKey"
SCOPES = ["https://graph.microsoft.com/.default"]


class FakeCredential:
    """Stands in for ClientSecretCredential: what the SDK asks of a credential."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("emulator-token", int(time.time()) + 3600)


def sdk_client(emulator, retries: bool = False, credential: FakeCredential | None = None,
               options: dict | None = None) -> GraphServiceClient:
    """A production-shaped client: azure-identity credential, Graph scopes; only the base URL differs.

    The SDK's own retry handler is off unless asked (our rule: retries in exactly two places).
    """
    if options is None:
        options = {} if retries else {
            RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False)}
    auth = AzureIdentityAuthenticationProvider(credential or FakeCredential(), scopes=SCOPES)
    adapter = GraphRequestAdapter(auth, client=GraphClientFactory.create_with_default_middleware(options=options))
    client = GraphServiceClient(request_adapter=adapter)
    client.request_adapter.base_url = emulator.base_url
    return client


def sync(test):
    """Run an async test in one event loop (the SDK's httpx client is bound to the loop it first ran in)."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return wrapper


@sync
async def test_client_reaches_the_emulator_with_an_azure_identity_credential(emulator):
    """The plain production constructor; only request_adapter.base_url is changed (graph-semantics §9.2)."""
    credential = FakeCredential()
    client = GraphServiceClient(credentials=credential, scopes=SCOPES)
    client.request_adapter.base_url = emulator.base_url
    user = await client.users.by_user_id(JANE).get()
    assert (user.display_name, user.user_principal_name) == ("Jane Doe", JANE)
    assert credential.scopes[0] == tuple(SCOPES)
    assert emulator.emulator.requests.entries[-1]["path"] == f"/users/{JANE}"


@sync
async def test_graph_errors_arrive_as_odata_errors_with_code(emulator):
    client = sdk_client(emulator)
    await client.users.by_user_id(JANE).mail_folders.post(MailFolder(display_name="Projects"))
    with pytest.raises(ODataError) as info:
        await client.users.by_user_id(JANE).mail_folders.post(MailFolder(display_name="Projects"))
    assert info.value.response_status_code == 409 and info.value.error.code == "ErrorFolderExists"
    with pytest.raises(ODataError) as info:
        await client.users.by_user_id("nobody@acme.example").mail_folders.get()
    assert (info.value.response_status_code, info.value.error.code) == (404, "ErrorInvalidUser")


@sync
async def test_non_draft_message_with_source_key_found_again_by_filter(emulator):
    client = sdk_client(emulator)
    message = Message(subject="Kickoff", single_value_extended_properties=[
        SingleValueLegacyExtendedProperty(id="Integer 0x0E07", value="1"),
        SingleValueLegacyExtendedProperty(id="SystemTime 0x0E06", value="2024-03-05T09:15:00Z"),
        SingleValueLegacyExtendedProperty(id=KEY, value="85257A1B/0123ABCD")])
    created = await client.users.by_user_id(JANE).mail_folders.by_mail_folder_id("inbox").messages.post(message)
    assert created.is_draft is False and created.received_date_time.isoformat().startswith("2024-03-05T09:15")
    assert not created.single_value_extended_properties
    query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
        filter=f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY}' and ep/value eq '85257a1b/0123abcd')",
        select=["id", "subject"])
    found = await client.users.by_user_id(JANE).messages.get(RequestConfiguration(query_parameters=query))
    assert [m.id for m in found.value] == [created.id]
    expand = MessageItemRequestBuilder.MessageItemRequestBuilderGetQueryParameters(
        expand=[f"singleValueExtendedProperties($filter=id eq '{KEY}')"])
    got = await client.users.by_user_id(JANE).messages.by_message_id(created.id).get(
        RequestConfiguration(query_parameters=expand))
    assert [(p.id, p.value) for p in got.single_value_extended_properties] == [(KEY, "85257A1B/0123ABCD")]


@sync
async def test_inline_attachment_and_its_size_limit(emulator):
    client = sdk_client(emulator)
    msg = await client.users.by_user_id(JANE).messages.post(Message(subject="with file"))
    att = await client.users.by_user_id(JANE).messages.by_message_id(msg.id).attachments.post(
        FileAttachment(odata_type="#microsoft.graph.fileAttachment", name="a.txt", content_bytes=b"hello"))
    assert att.size == 5
    with pytest.raises(ODataError) as info:
        await client.users.by_user_id(JANE).messages.by_message_id(msg.id).attachments.post(
            FileAttachment(odata_type="#microsoft.graph.fileAttachment", name="big", content_bytes=b"x" * 3_200_000))
    assert info.value.response_status_code == 413


async def _upload_session(client, message_id: str, size: int):
    body = CreateUploadSessionPostRequestBody(attachment_item=AttachmentItem(
        attachment_type=AttachmentType.File, name="big.bin", size=size))
    attachments = client.users.by_user_id(JANE).messages.by_message_id(message_id).attachments
    return await attachments.create_upload_session.post(body)


@sync
async def test_large_file_upload_task_sends_the_bearer_token_and_gets_401(emulator):
    """graph-semantics §9.7 / msgraph-sdk-python-core#691: the task uploads through the authenticated adapter."""
    client = sdk_client(emulator)
    msg = await client.users.by_user_id(JANE).messages.post(Message(subject="big"))
    session = await _upload_session(client, msg.id, 400_000)
    assert session.upload_url.startswith(emulator.root_url + "/_upload/") and session.next_expected_ranges == ["0-"]
    task = LargeFileUploadTask(session, client.request_adapter, io.BytesIO(b"x" * 400_000), max_chunk_size=327_680)
    with pytest.raises(APIError) as info:
        await task.upload()
    assert info.value.response_status_code == 401
    rejected = [e for e in emulator.emulator.requests.entries if e["path"].startswith("/_upload/")]
    assert rejected and rejected[0]["error"] == "InvalidAudience"


@sync
async def test_large_file_upload_task_cannot_parse_outlooks_next_expected_ranges(emulator):
    """Outlook answers nextExpectedRanges ["{start}"] (DC:resources/uploadsession.md); the task appends "-" and
    then fails on int(''): even with an anonymous adapter it cannot finish an attachment upload."""
    client = sdk_client(emulator)
    msg = await client.users.by_user_id(JANE).messages.post(Message(subject="big"))
    session = await _upload_session(client, msg.id, 400_000)
    anonymous = GraphRequestAdapter(AnonymousAuthenticationProvider())
    task = LargeFileUploadTask(session, anonymous, io.BytesIO(b"x" * 400_000), max_chunk_size=327_680)
    with pytest.raises(ValueError):
        await task.upload()
    attachments = await client.users.by_user_id(JANE).messages.by_message_id(msg.id).attachments.get()
    assert attachments.value == []


@sync
async def test_upload_session_chunks_through_an_anonymous_adapter(emulator):
    """The workaround: a second adapter without credentials for the pre-authenticated URL."""
    client = sdk_client(emulator)
    msg = await client.users.by_user_id(JANE).messages.post(Message(subject="big"))
    data = bytes(range(256)) * 1600
    session = await _upload_session(client, msg.id, len(data))
    anonymous = GraphRequestAdapter(AnonymousAuthenticationProvider())
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation
    for start in range(0, len(data), 327_680):
        chunk = data[start:start + 327_680]
        info = RequestInformation(Method.PUT, session.upload_url)
        info.headers.try_add("Content-Range", f"bytes {start}-{start + len(chunk) - 1}/{len(data)}")
        info.set_stream_content(chunk)
        await anonymous.send_no_response_content_async(info, {})
    attachments = await client.users.by_user_id(JANE).messages.by_message_id(msg.id).attachments.get()
    assert [(a.name, a.size) for a in attachments.value] == [("big.bin", len(data))]


@sync
async def test_sdk_retry_handler_turns_a_lost_answer_into_a_duplicate(emulator):
    """Why our SDK client runs with retries off: a POST committed but answered 504 is re-sent blindly."""
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=1.0, kinds=("lost-504",))))
    client = sdk_client(emulator, options={RetryHandlerOption.get_key(): RetryHandlerOption(delay=0, max_retries=1)})
    with pytest.raises(ODataError):
        await client.users.by_user_id(JANE).mail_folders.by_mail_folder_id("inbox").messages.post(Message(subject="dup"))
    emulator.config.faults.fault_rate = 0
    listed = await client.users.by_user_id(JANE).mail_folders.by_mail_folder_id("inbox").messages.get()
    subjects = [m.subject for m in listed.value]
    assert subjects.count("dup") == 2
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=1.0, kinds=("lost-504",))))
    quiet = sdk_client(emulator)  # retries off: one request, one message, and the caller sees the failure
    with pytest.raises(ODataError):
        await quiet.users.by_user_id(JANE).mail_folders.by_mail_folder_id("inbox").messages.post(Message(subject="one"))
    emulator.config.faults.fault_rate = 0
    listed = await quiet.users.by_user_id(JANE).mail_folders.by_mail_folder_id("inbox").messages.get()
    assert [m.subject for m in listed.value] == ["one"]


@sync
async def test_throttling_reaches_the_sdk_as_429_with_retry_after(emulator):
    from notes2m365.emulator import ThrottleConfig
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(mailbox_requests=1)))
    client = sdk_client(emulator)
    await client.users.by_user_id(JANE).mail_folders.get()
    with pytest.raises(ODataError) as info:
        await client.users.by_user_id(JANE).mail_folders.get()
    assert (info.value.response_status_code, info.value.error.code) == (429, "ApplicationThrottled")
    assert int(info.value.response_headers["retry-after"][0] if isinstance(
        info.value.response_headers["retry-after"], (list, set)) else info.value.response_headers["retry-after"]) >= 1


@sync
async def test_event_with_attendees_records_an_invitation(emulator):
    client = sdk_client(emulator)
    event = Event(subject="Review", start=DateTimeTimeZone(date_time="2024-03-05T10:00:00", time_zone="UTC"),
                  end=DateTimeTimeZone(date_time="2024-03-05T11:00:00", time_zone="UTC"),
                  attendees=[Attendee(email_address=EmailAddress(address=JOHN, name="John Smith"))])
    created = await client.users.by_user_id(JANE).events.post(event)
    assert created.subject == "Review"
    invitations = emulator.emulator.store.all("invitation")
    assert len(invitations) == 1 and JOHN in str(invitations[0])


@sync
async def test_todo_list_and_task(emulator):
    client = sdk_client(emulator)
    todo_list = await client.users.by_user_id(JANE).todo.lists.post(TodoTaskList(display_name="Notes to-dos"))
    task = await client.users.by_user_id(JANE).todo.lists.by_todo_task_list_id(todo_list.id).tasks.post(
        TodoTask(title="Send report"))
    assert task.title == "Send report"


@sync
async def test_sharepoint_list_items_and_the_non_indexed_filter_rule(emulator):
    client = sdk_client(emulator)
    site = await client.sites.by_site_id("acme.sharepoint.com:/sites/teamroom:").get()
    new_list = List_(display_name="Discussion", list_=ListInfo(template="genericList"), columns=[
        ColumnDefinition(name="NotesKey", text=TextColumn(), indexed=True),
        ColumnDefinition(name="Category", text=TextColumn())])
    created = await client.sites.by_site_id(site.id).lists.post(new_list)
    items = client.sites.by_site_id(site.id).lists.by_list_id(created.id).items
    await items.post(ListItem(fields=FieldValueSet(additional_data={"Title": "Welcome", "NotesKey": "K1",
                                                                  "Category": "General"})))

    def query(flt: str) -> RequestConfiguration:
        return RequestConfiguration(query_parameters=ItemsRequestBuilder.ItemsRequestBuilderGetQueryParameters(
            expand=["fields"], filter=flt))
    found = await items.get(query("fields/NotesKey eq 'K1'"))
    assert [i.fields.additional_data["Title"] for i in found.value] == ["Welcome"]
    with pytest.raises(ODataError) as info:
        await items.get(query("fields/Category eq 'General'"))
    assert info.value.response_status_code == 400
    assert "HonorNonIndexedQueriesWarningMayFailRandomly" in info.value.error.message
    allowed = query("fields/Category eq 'General'")
    allowed.headers.add("Prefer", "HonorNonIndexedQueriesWarningMayFailRandomly")
    assert len((await items.get(allowed)).value) == 1


@sync
async def test_drive_simple_upload_by_path(emulator):
    client = sdk_client(emulator)
    site = await client.sites.by_site_id("acme.sharepoint.com:/sites/teamroom:").get()
    drive = await client.sites.by_site_id(site.id).drive.get()
    item = await client.drives.by_drive_id(drive.id).items.by_drive_item_id("root:/Reports/q1.txt:").content.put(
        b"quarter one")
    assert (item.name, item.size) == ("q1.txt", 11)
    got = await client.drives.by_drive_id(drive.id).items.by_drive_item_id(item.id).content.get()
    assert got == b"quarter one"


# -- rejections as the SDK sees them: status and error.code on ODataError --------------------------------
async def _bad_header(client):
    from msgraph.generated.models.internet_message_header import InternetMessageHeader
    await client.users.by_user_id(JANE).messages.post(Message(subject="h", internet_message_headers=[
        InternetMessageHeader(name="Received", value="x")]))


async def _too_many_headers(client):
    from msgraph.generated.models.internet_message_header import InternetMessageHeader
    await client.users.by_user_id(JANE).messages.post(Message(subject="h", internet_message_headers=[
        InternetMessageHeader(name=f"x-h{n}", value="v") for n in range(6)]))


async def _all_day_not_midnight(client):
    await client.users.by_user_id(JANE).events.post(Event(
        subject="a", is_all_day=True, start=DateTimeTimeZone(date_time="2024-03-05T10:00:00", time_zone="UTC"),
        end=DateTimeTimeZone(date_time="2024-03-06T10:00:00", time_zone="UTC")))


async def _weekly_without_days(client):
    from msgraph.generated.models.patterned_recurrence import PatternedRecurrence
    from msgraph.generated.models.recurrence_pattern import RecurrencePattern
    from msgraph.generated.models.recurrence_pattern_type import RecurrencePatternType
    from msgraph.generated.models.recurrence_range import RecurrenceRange
    from msgraph.generated.models.recurrence_range_type import RecurrenceRangeType
    import datetime
    await client.users.by_user_id(JANE).events.post(Event(
        subject="r", start=DateTimeTimeZone(date_time="2024-03-04T10:00:00", time_zone="UTC"),
        end=DateTimeTimeZone(date_time="2024-03-04T11:00:00", time_zone="UTC"),
        recurrence=PatternedRecurrence(
            pattern=RecurrencePattern(type=RecurrencePatternType.Weekly, interval=1),
            range=RecurrenceRange(type=RecurrenceRangeType.NoEnd, start_date=datetime.date(2024, 3, 4)))))


async def _session_on_non_draft(client):
    msg = await client.users.by_user_id(JANE).messages.post(Message(
        subject="sent", single_value_extended_properties=[
            SingleValueLegacyExtendedProperty(id="Integer 0x0E07", value="1")]))
    await _upload_session(client, msg.id, 5_000_000)


async def _item_attachment_session(client):
    msg = await client.users.by_user_id(JANE).messages.post(Message(subject="d"))
    body = CreateUploadSessionPostRequestBody(attachment_item=AttachmentItem(
        attachment_type=AttachmentType.Item, name="x", size=5_000_000))
    await client.users.by_user_id(JANE).messages.by_message_id(msg.id).attachments.create_upload_session.post(body)


async def _authorship_write(client):
    site = await client.sites.by_site_id("acme.sharepoint.com:/sites/teamroom:").get()
    created = await client.sites.by_site_id(site.id).lists.post(List_(display_name="Audit",
                                                                      list_=ListInfo(template="genericList")))
    await client.sites.by_site_id(site.id).lists.by_list_id(created.id).items.post(ListItem(
        fields=FieldValueSet(additional_data={"Title": "x", "Created": "2001-01-01T00:00:00Z"})))


async def _invalid_file_name(client):
    site = await client.sites.by_site_id("acme.sharepoint.com:/sites/teamroom:").get()
    drive = await client.sites.by_site_id(site.id).drive.get()
    await client.drives.by_drive_id(drive.id).items.by_drive_item_id("root:/bad|name.txt:").content.put(b"x")


async def _duplicate_drive_folder(client):
    from msgraph.generated.models.drive_item import DriveItem
    from msgraph.generated.models.folder import Folder
    site = await client.sites.by_site_id("acme.sharepoint.com:/sites/teamroom:").get()
    drive = await client.sites.by_site_id(site.id).drive.get()
    children = client.drives.by_drive_id(drive.id).items.by_drive_item_id("root").children
    await children.post(DriveItem(name="Minutes", folder=Folder()))
    await children.post(DriveItem(name="Minutes", folder=Folder()))


@pytest.mark.parametrize("call,status,code", [
    (_bad_header, 400, "InvalidInternetMessageHeader"),
    (_too_many_headers, 400, "InvalidInternetMessageHeaderCollection"),
    (_all_day_not_midnight, 400, "ErrorPropertyValidationFailure"),
    (_weekly_without_days, 400, "ErrorPropertyValidationFailure"),
    (_session_on_non_draft, 400, "ErrorInvalidOperation"),
    (_item_attachment_session, 405, "ErrorAttachmentSessionIsSupportedOnlyForFileAttachments"),
    (_authorship_write, 400, "invalidRequest"),
    (_invalid_file_name, 400, "invalidRequest"),
    (_duplicate_drive_folder, 409, "nameAlreadyExists"),
], ids=lambda v: getattr(v, "__name__", str(v)).strip("_"))
@sync
async def test_rejections_reach_the_sdk_with_graphs_status_and_code(emulator, call, status, code):
    with pytest.raises(ODataError) as info:
        await call(sdk_client(emulator))
    assert (info.value.response_status_code, info.value.error.code) == (status, code)
