"""Where an accepted file may be uploaded: OneDrive / SharePoint over https only (the upload
URL comes from the `fileConsent/invoke` activity, so it is data, checked before any byte)."""

from __future__ import annotations

import pytest

from bot.adapters.service_hosts import upload_allowed
from bot.teams.file_upload import OneDriveUploader, UploadRefused


@pytest.mark.parametrize("url", [
    "https://contoso-my.sharepoint.com/personal/pat_contoso_onmicrosoft_com/_api/v2.0/drive/items/01/uploadSession",
    "https://contoso-my.sharepoint.com:443/personal/x",
    "https://CONTOSO-MY.SHAREPOINT.COM/personal/x",
    "https://contoso-my.sharepoint.us/personal/x",        # GCC High
    "https://contoso-my.sharepoint-mil.us/personal/x",    # DoD
])
def test_onedrive_hosts_are_allowed(url: str) -> None:
    assert upload_allowed(url, local_mode=False)


@pytest.mark.parametrize("url", [
    "http://contoso-my.sharepoint.com/personal/x",          # not https
    "https://contoso-my.sharepoint.com:8443/personal/x",    # not the default port
    "https://sharepoint.com.evil.example/x",                # a look-alike
    "https://evilsharepoint.com/x",                         # a suffix without the dot
    "https://user@contoso-my.sharepoint.com/x",             # userinfo
    "https://contoso-my.sharepoint.com\\@evil.example/x",   # what two parsers read differently
    "https://graph.microsoft.com/v1.0/me/drive",            # Microsoft, but not an upload session host
    "https://20.190.1.1/x",                                 # an address
    "http://127.0.0.1:8080/upload",                         # loopback outside local mode
    "ftp://contoso-my.sharepoint.com/x",
    "",
])
def test_anything_else_is_refused(url: str) -> None:
    assert not upload_allowed(url, local_mode=False)


def test_loopback_only_in_local_mode() -> None:
    assert upload_allowed("http://127.0.0.1:8080/upload", local_mode=True)
    assert upload_allowed("http://localhost:8080/upload", local_mode=True)
    assert not upload_allowed("https://evil.example/upload", local_mode=True)


async def test_the_uploader_refuses_before_sending() -> None:
    with pytest.raises(UploadRefused) as refused:
        await OneDriveUploader(local_mode=False).put("https://evil.example/upload/path?secret=1", b"PK")
    assert refused.value.host == "https://evil.example"  # scheme and host only, never the path
