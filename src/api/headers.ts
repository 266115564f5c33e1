/** Header names the registry reads or writes, in one place. */
export const Header = {
  ApiVersion: 'Docker-Distribution-API-Version',
  ContentDigest: 'Docker-Content-Digest',
  UploadUuid: 'Docker-Upload-UUID',
  OciSubject: 'OCI-Subject',
  OciFiltersApplied: 'OCI-Filters-Applied',
  Location: 'Location',
  Range: 'Range',
  ContentRange: 'Content-Range',
  ContentType: 'Content-Type',
  ContentLength: 'Content-Length',
  AcceptRanges: 'Accept-Ranges',
  Link: 'Link',
  Allow: 'Allow',
  ETag: 'ETag',
  RequestId: 'X-Request-Id',
} as const;

export const API_VERSION = 'registry/2.0';
