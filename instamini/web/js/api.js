// The JSON API, as the browser calls it: same origin, the session in an HttpOnly cookie,
// and the CSRF token (readable cookie `instamini_csrf`) echoed in a header on every
// request that changes something. Errors become ApiError with the server's message.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export function csrfToken() {
  return cookie("instamini_csrf");
}

export async function api(method, path, body, {signal} = {}) {
  const headers = {Accept: "application/json"};
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, {method, headers, body: payload, credentials: "same-origin", signal});
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, (data && data.detail) || response.statusText);
  return data;
}

export const get = (path, options) => api("GET", path, undefined, options);
export const post = (path, body) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

// An upload with progress (fetch cannot report upload progress; XMLHttpRequest can).
export function upload(file, altText, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file);
    if (altText) form.append("alt_text", altText);
    const request = new XMLHttpRequest();
    request.open("POST", "/api/v1/media");
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.upload.onprogress = (event) => event.lengthComputable && onProgress && onProgress(event.loaded / event.total);
    request.onload = () => {
      const data = JSON.parse(request.responseText || "null");
      if (request.status >= 200 && request.status < 300) resolve(data);
      else reject(new ApiError(request.status, data?.detail || "upload failed"));
    };
    request.onerror = () => reject(new ApiError(0, "the upload could not reach the server"));
    request.send(form);
  });
}
