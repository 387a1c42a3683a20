// `irbis serve` (server.h): HTML views rendered by the same sections as the static report, the
// search page, and the JSON API. Images and thumbnails are addressed by numeric id only; no route
// takes a path, so nothing outside the catalog's own files can be reached.
#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include <httplib.h>

#include "irbis/errors.h"
#include "irbis/image.h"
#include "irbis/model.h"
#include "irbis/results.h"
#include "irbis/scan.h"
#include "irbis/server.h"
#include "irbis/text.h"
#include "server/http_guard.h"

namespace irbis {

namespace {

httplib::Server* g_server = nullptr;
void on_signal(int) {
  if (g_server) g_server->stop();
}

// The API's only additions to the library's image objects (results.h): links to the thumbnail
// and the file, on every image object of an answer (also nested ones: keep, neighbor).
void add_links(nlohmann::json& j) {
  if (j.is_array()) {
    for (auto& x : j) add_links(x);
    return;
  }
  if (!j.is_object()) return;
  if (j.contains("id") && j.contains("status") && j["status"] == "ok") {
    const std::string id = std::to_string(j["id"].get<int64_t>());
    j["thumb"] = "/thumbs/" + id + ".jpg";
    j["file"] = "/images/" + id;
  }
  for (auto& [key, value] : j.items())
    if (value.is_structured()) add_links(value);
}
nlohmann::json linked(nlohmann::json j) {
  add_links(j);
  return j;
}

void send_json(httplib::Response& res, const nlohmann::json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}
void send_error(httplib::Response& res, int status, const std::string& msg) {
  send_json(res, {{"error", display_path(msg)}}, status);
}

// Query integers outside their range are a 400, never clamped (http_guard.h). Offsets stop far
// below where offset + limit could overflow; pages where page * page size could.
using http::int_param;
constexpr int64_t kMaxOffset = int64_t(1) << 40;
constexpr int64_t kMaxPage = 1000000;
constexpr int64_t kMaxId = int64_t(1) << 53;
const char* mime_of(ImageFormat f) {
  switch (f) {
    case ImageFormat::jpeg: return "image/jpeg";
    case ImageFormat::png: return "image/png";
    case ImageFormat::webp: return "image/webp";
    case ImageFormat::bmp: return "image/bmp";
    case ImageFormat::tiff: return "image/tiff";
    case ImageFormat::gif: return "image/gif";
    case ImageFormat::heif: return "image/heic";
    case ImageFormat::avif: return "image/avif";
    case ImageFormat::jxl: return "image/jxl";
    case ImageFormat::netpbm: return "image/x-portable-anymap";
    case ImageFormat::mpo: return "image/jpeg";  // browsers show an MPO's first image
    default: return "application/octet-stream";
  }
}

// The search page's script: upload or drop an image, POST it to /api/search, show the results.
// Results are built with textContent / attributes, never innerHTML, so names cannot inject markup.
const char* kSearchScript = R"JS(
(function(){
  const drop=document.getElementById('drop'), input=document.getElementById('upload'),
        out=document.getElementById('results'), err=document.getElementById('error'),
        info=document.getElementById('query-info');
  // caption(r): the score line under a result (similarity for an image query, match for colours).
  function show(data,caption){
    out.textContent='';
    (data.results||[]).forEach(function(r){
      const f=document.createElement('figure'); f.className='thumb'; f.dataset.id=r.id; f.title=r.path;
      const a=document.createElement('a'); a.href='/search?id='+r.id;
      const img=document.createElement('img'); img.src=r.thumb; img.alt=r.name; img.loading='lazy';
      a.appendChild(img); f.appendChild(a);
      if(r.palette){  // the image's dominant colours, each as wide as its weight
        const p=document.createElement('div'); p.className='pal';
        r.palette.forEach(function(c){ const s=document.createElement('span'); s.style.background=c.color;
          s.style.width=(100*c.weight).toFixed(1)+'%'; s.title=c.color+' '+Math.round(100*c.weight)+'%'; p.appendChild(s); });
        f.appendChild(p);
      }
      const c=document.createElement('figcaption'); c.textContent=caption(r)+' ';
      const n=document.createElement('span'); n.className='name'; n.textContent=r.name;
      c.appendChild(document.createElement('br')); c.appendChild(n); f.appendChild(c); out.appendChild(f);
    });
    out.dataset.count=(data.results||[]).length;
  }
  function send(file){
    err.textContent=''; info.textContent='searching '+file.name+' ...';
    const fd=new FormData(); fd.append('image',file);
    fetch('/api/search?k=24',{method:'POST',body:fd}).then(function(r){
      return r.json().then(function(j){ return {ok:r.ok,status:r.status,j:j}; });
    }).then(function(x){
      if(!x.ok){ err.textContent='error '+x.status+': '+(x.j.error||''); info.textContent=''; out.textContent=''; out.dataset.count=0; return; }
      info.textContent='results for uploaded '+file.name+' ('+x.j.query.width+'\u00d7'+x.j.query.height+')';
      show(x.j,function(r){ return 'similarity '+r.similarity.toFixed(3); });
    }).catch(function(e){ err.textContent=String(e); });
  }
  // Colour search: GET /api/search?colors=... (what `irbis search --colors` answers).
  const form=document.getElementById('color-form'), colors=document.getElementById('colors'),
        pick=document.getElementById('color-pick');
  function by_colors(list){
    err.textContent=''; info.textContent='searching colours '+list+' ...';
    fetch('/api/search?k=24&colors='+encodeURIComponent(list)).then(function(r){
      return r.json().then(function(j){ return {ok:r.ok,status:r.status,j:j}; });
    }).then(function(x){
      if(!x.ok){ err.textContent='error '+x.status+': '+(x.j.error||''); info.textContent=''; out.textContent=''; out.dataset.count=0; return; }
      info.textContent='images holding '+x.j.query.join(', ');
      show(x.j,function(r){ return 'match '+r.match.toFixed(3); });
    }).catch(function(e){ err.textContent=String(e); });
  }
  form.addEventListener('submit',function(e){ e.preventDefault(); by_colors(colors.value); });
  pick.addEventListener('change',function(){ colors.value=colors.value.trim()?colors.value.trim()+','+pick.value:pick.value; });
  if(colors.value.trim()) by_colors(colors.value);
  input.addEventListener('change',function(){ if(input.files.length) send(input.files[0]); });
  ['dragenter','dragover'].forEach(function(t){ drop.addEventListener(t,function(e){ e.preventDefault(); drop.classList.add('over'); }); });
  ['dragleave','drop'].forEach(function(t){ drop.addEventListener(t,function(e){ e.preventDefault(); drop.classList.remove('over'); }); });
  drop.addEventListener('drop',function(e){ if(e.dataTransfer.files.length) send(e.dataTransfer.files[0]); });
})();
)JS";

struct Server {
  const Collection& coll;
  ReportOptions ropts;
  ServeOptions sopts;
  ReportData data;
  std::vector<ReportSection> sections;
  std::mutex embed_mu;
  std::unique_ptr<Embedder> embedder;
  http::DecodeBudget decode_budget{http::kDecodeBudgetBytes};
  std::mutex match_mu;  // the matcher runs one network: one upload at a time
  std::unique_ptr<CollectionMatcher> matcher;

  Server(const Collection& c, const ReportOptions& r, const ServeOptions& s)
      : coll(c), ropts(r), sopts(s), data(c, r), sections(report_sections(r)) {}

  ViewContext ctx(int page = 0, int page_size = 0) {
    ViewContext v;
    v.live = true;
    v.thumb_url = [](int64_t id) { return "/thumbs/" + std::to_string(id) + ".jpg"; };
    v.link_url = [](int64_t id) { return "/search?id=" + std::to_string(id); };
    v.csv_url = [](const std::string& f) { return "/csv/" + f; };
    v.page = page;
    v.page_size = page_size;
    return v;
  }

  std::string nav() {
    std::string n;
    for (auto& s : sections)
      if (s.available(data)) n += "<a href=\"/" + (s.id == "overview" ? std::string() : s.id) + "\">" + html_escape(s.title) + "</a>";
    return n + "<a href=\"/search\">Search</a>";
  }

  std::string search_page(const httplib::Request& req) {
    std::string body = "<section id=\"search\"><h2>Search</h2>";
    if (!data.search())
      body += "<p class=\"err\">search is not available: " + html_escape(display_path(data.search_error())) + "</p>";
    body += "<div id=\"drop\">Drop an image here, or <input type=\"file\" id=\"upload\" accept=\"image/*\"> "
            "&mdash; or click any thumbnail for more like it.</div>"
            "<form id=\"color-form\" action=\"/search\" method=\"get\"><label>Or by colours: <input type=\"text\" "
            "id=\"colors\" name=\"colors\" size=\"28\" placeholder=\"#1f3a5f,#ffffff\" value=\"" +
            html_escape(req.has_param("colors") ? req.get_param_value("colors") : std::string()) +
            "\"></label> <input type=\"color\" id=\"color-pick\" value=\"#1f3a5f\" title=\"add a colour\"> "
            "<button type=\"submit\">Search colours</button></form>"
            "<p id=\"error\" class=\"err\"></p><p id=\"query-info\" class=\"mut\"></p>";
    std::string results;
    size_t count = 0;
    if (req.has_param("id")) {
      const int64_t id = int_param(req, "id", -1, 0, kMaxId);
      const int k = int(int_param(req, "k", 24, 1, 500));
      const ImageRecord* q = data.by_id(id);
      if (!q || q->status != ImageStatus::ok) throw UsageError("no image with id " + std::to_string(id));
      const auto v = ctx();
      body += "<div class=\"grid\" id=\"query\">" + thumb_html(v, *q, "<b>query</b>", "keep") + "</div>";
      const int64_t row = data.search_row(id);
      if (row < 0) throw NotAvailableError("image " + std::to_string(id) + " has no embedding");
      const auto hits = more_like_this(data, data.search()->data().row(int(row)), k, id);
      for (const auto& h : hits)
        if (const ImageRecord* r = data.by_id(h.id)) {
          results += thumb_html(v, *r, "similarity " + fixed(h.similarity, 3));
          ++count;
        }
      body += "<h3>More like this</h3>";
    }
    body += "<div class=\"grid\" id=\"results\" data-count=\"" + std::to_string(count) + "\">" + results + "</div></section>";
    return page_html("irbis search", nav(), body, kSearchScript);
  }

  // The answer of `irbis search` (search_json), the query given as the API has it.
  nlohmann::json search_answer(const VectorSearch& vs, const nlohmann::json& query, const cv::Mat& query_vec, int k,
                               int64_t exclude_row) {
    std::vector<Neighbor> hits;
    if (vs.size() > 0 && int(query_vec.total()) == vs.dim()) {
      cv::Mat q;
      query_vec.convertTo(q, CV_32F);
      q = q.reshape(1, 1);
      if (!q.isContinuous()) q = q.clone();
      hits = vs.search(q.ptr<float>(), k, exclude_row);
    }
    return linked(search_json(vs, query, k, hits));
  }

  // The answer of `irbis match` (match_json) for one upload: is it already in the collection?
  nlohmann::json match_answer(const std::string& name, const std::string& bytes) {
    if (bytes.empty()) throw DecodeError("empty upload");
    MatchOptions o;
    o.decode.max_pixels = sopts.max_upload_pixels;
    const std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    // The decode runs under the upload budget like /api/search's (D8); an upload whose header
    // cannot be read or declares too many pixels is refused by the matcher as a failed query.
    std::optional<http::DecodeBudget::Lease> lease;
    try {
      const ImageHeader h = read_header(b);
      const uint64_t pixels = uint64_t(h.width) * uint64_t(h.height);
      if (pixels <= sopts.max_upload_pixels) lease.emplace(decode_budget, pixels * http::peak_bytes_per_pixel(h.format));
    } catch (const DecodeError&) {
    }
    std::lock_guard lk(match_mu);
    if (!matcher) matcher = std::make_unique<CollectionMatcher>(coll, o);
    std::vector<MatchedQuery> q;
    q.push_back(matcher->match(name, b));
    nlohmann::json j = {{"collection", display_path(coll.dir().string())}};
    j.update(match_json(matcher->result(std::move(q)), o));
    return j;
  }

  cv::Mat embed_upload(const std::string& bytes, nlohmann::json& info) {
    const std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const VectorSearch* vs = data.search();
    // The decode of index and embed_file (the model's input side): the same pixels, the same embedding.
    const DecodedImage img =
        http::decode_upload(b, sopts.max_upload_pixels, decode_budget, vs ? vs->card().input_size : 0);
    info = {{"width", img.header.width}, {"height", img.header.height}, {"format", format_name(img.header.format)}};
    if (!vs) throw NotAvailableError("search is not available: " + data.search_error());
    std::lock_guard lk(embed_mu);  // one network, one query image at a time
    if (!embedder) embedder = std::make_unique<Embedder>(vs->card());
    return embed_image(*embedder, img.rgb);
  }
};

// Runs a handler, mapping irbis errors to HTTP statuses with a JSON (API) or HTML message.
template <class F>
auto guarded(bool api, F f) {
  return [api, f](const httplib::Request& req, httplib::Response& res) {
    auto fail = [&](int status, const std::string& msg) {
      if (api) send_error(res, status, msg);
      else {
        res.status = status;
        res.set_content(page_html("irbis: error", "<a href=\"/\">Overview</a>",
                                  "<section><h2>Error " + std::to_string(status) + "</h2><p class=\"err\">" +
                                      html_escape(display_path(msg)) + "</p></section>"),
                        "text/html; charset=utf-8");
      }
    };
    try {
      f(req, res);
    } catch (const UsageError& e) {
      fail(400, e.what());
    } catch (const DecodeError& e) {
      fail(400, e.what());
    } catch (const NotAvailableError& e) {  // one status for "not computed / not available" everywhere
      fail(404, e.what());
    } catch (const IoError& e) {
      fail(404, e.what());
    } catch (const std::exception& e) {
      fail(500, e.what());
    }
  };
}

}  // namespace

void serve(const Collection& coll, const ReportOptions& report, const ServeOptions& opts) {
  ReportOptions ropts = report;
  ropts.index.single_thread_queries = true;  // many searches at once: one thread each, no BLAS contention
  Server S(coll, ropts, opts);
  http::ConnectionLimits limits;
  http::HardenedServer svr(limits);
  int bound_port = 0;
  // Before any route (issue 16, docs/reliability.md): the Host must name this server (DNS
  // rebinding), writes must not come from another origin's page (no CORS headers are ever sent),
  // Range must be a single range (no multi-range amplification).
  svr.set_pre_routing_handler([&opts, &bound_port](const httplib::Request& req, httplib::Response& res) {
    http::HardenedServer::headers_received();
    const auto refuse = [&](int status, const std::string& msg) {
      res.set_header("Connection", "close");
      if (req.path.rfind("/api/", 0) == 0) send_error(res, status, msg);
      else res.set_content(msg + "\n", "text/plain");
      res.status = status;
      return httplib::Server::HandlerResponse::Handled;
    };
    const std::string host = req.get_header_value("Host");
    if (!http::host_allowed(host, opts.host, bound_port))
      return refuse(403, "this server does not answer for host '" + host + "'");
    if (http::cross_origin_write(req.method, req.get_header_value("Origin"), req.get_header_value("Sec-Fetch-Site"), host))
      return refuse(403, "cross-origin request refused");
    if (http::multiple_ranges(req.get_header_value("Range"))) {
      // cpp-httplib applies the parsed ranges to every routed answer, this refusal too: drop them
      // (the Request object is the server's own, mutable one; only the handler's view is const).
      const_cast<httplib::Request&>(req).ranges.clear();
      return refuse(416, "only single byte ranges are served");
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Each connection holds a worker (cpp-httplib), and a connection waiting for one has no deadline:
  // two clients' caps plus a reserve, so one client at its cap (slow or not) leaves another client
  // as many workers (with one cap's worth, the load test's 64 slowloris + 64 wrk + 8 upload
  // connections were 4 more than the workers: a reconnecting client waited for a slowloris cut).
  const int nthreads = std::max(4, opts.threads) + 2 * limits.per_client;
  svr.new_task_queue = [nthreads] { return new httplib::ThreadPool(size_t(nthreads)); };
  svr.set_payload_max_length(opts.max_upload_bytes);
  svr.set_keep_alive_max_count(100000);
  svr.set_tcp_nodelay(true);  // else small responses wait ~40 ms for delayed ACKs (Nagle)
  svr.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                           {"Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                       "script-src 'self' 'unsafe-inline'; img-src 'self' data:"}});
  const auto html = [](httplib::Response& res, const std::string& s) { res.set_content(s, "text/html; charset=utf-8"); };

  // --- pages: one per section, plus search ---
  for (const auto& sec : S.sections) {
    const std::string route = sec.id == "overview" ? "/" : "/" + sec.id;
    svr.Get(route, guarded(false, [&S, &html, sec](const httplib::Request& req, httplib::Response& res) {
      if (!sec.available(S.data)) throw NotAvailableError(sec.title + " is not available for this collection");
      const int page = int(int_param(req, "page", 0, 0, kMaxPage));
      const auto v = S.ctx(page, S.sopts.page_size);
      html(res, page_html("irbis: " + sec.title, S.nav(), sec.html(S.data, v)));
    }));
  }
  svr.Get("/csv/(.+)", guarded(false, [&S](const httplib::Request& req, httplib::Response& res) {
    const std::string want = req.matches[1];
    for (auto& s : S.sections)
      if (s.available(S.data))
        for (const auto& t : s.tables(S.data))
          if (t.file == want) return res.set_content(csv_text(t), "text/csv; charset=utf-8");
    throw IoError("no table " + want);
  }));
  svr.Get("/search", guarded(false, [&S, &html](const httplib::Request& req, httplib::Response& res) {
    html(res, S.search_page(req));
  }));

  // --- images by id only ---
  svr.Get(R"(/thumbs/(\d{1,18})\.jpg)", guarded(false, [&S](const httplib::Request& req, httplib::Response& res) {
    const ImageRecord* r = S.data.by_id(std::stoll(req.matches[1]));
    if (!r || r->status != ImageStatus::ok) throw IoError("no such image");
    // When the cache cannot be written (a full disk) the thumbnail made in memory is the answer,
    // and a header says why it was not cached (nothing of the failed write is left to serve later).
    const Thumbnail t = cached_thumbnail(S.coll, *r);
    if (!t.cache_error.empty()) {
      std::string why = display_path(t.cache_error);
      for (char& c : why)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
      res.set_header("X-Irbis-Thumbnail-Cache", "not written: " + why);
    }
    res.set_header("Cache-Control", "max-age=3600");
    res.set_content(std::string(t.jpeg.begin(), t.jpeg.end()), "image/jpeg");
  }));
  svr.Get(R"(/images/(\d{1,18}))", guarded(false, [&S](const httplib::Request& req, httplib::Response& res) {
    const ImageRecord* r = S.data.by_id(std::stoll(req.matches[1]));
    if (!r || r->status != ImageStatus::ok) throw IoError("no such image");
    // Streamed from disk in 64 KiB pieces (a Range asks for its slice only), never read whole.
    auto file = std::make_shared<std::ifstream>(r->path, std::ios::binary);
    std::error_code ec;
    const auto size = std::filesystem::file_size(r->path, ec);
    if (!*file || ec) throw IoError(r->path + ": cannot read the original");
    res.set_content_provider(size_t(size), mime_of(r->format),
                             [file](size_t offset, size_t length, httplib::DataSink& sink) {
                               char buf[64 << 10];
                               file->seekg(std::streamoff(offset));
                               file->read(buf, std::streamsize(std::min(length, sizeof buf)));
                               const auto n = file->gcount();
                               return n > 0 && sink.write(buf, size_t(n));  // a file cut short ends the answer
                             });
  }));

  // --- JSON API ---
  svr.Get("/api/overview", guarded(true, [&S](const httplib::Request&, httplib::Response& res) {
    nlohmann::json j = {{"collection", display_path(S.coll.dir().string())}};
    j.update(collection_summary_json(S.data.overview()));
    send_json(res, j);
  }));
  svr.Get("/api/images", guarded(true, [&S](const httplib::Request& req, httplib::Response& res) {
    const auto& live = S.data.live();
    const int64_t off = int_param(req, "offset", 0, 0, kMaxOffset);
    const int64_t lim = int_param(req, "limit", S.sopts.page_size, 1, 1000);
    nlohmann::json items = nlohmann::json::array();
    for (int64_t i = off; i < std::min<int64_t>(off + lim, int64_t(live.size())); ++i) items.push_back(linked(image_json(live[size_t(i)])));
    send_json(res, {{"total", live.size()}, {"offset", off}, {"limit", lim}, {"items", items}});
  }));
  svr.Get(R"(/api/images/(\d{1,18}))", guarded(true, [&S](const httplib::Request& req, httplib::Response& res) {
    const ImageRecord* r = S.data.by_id(std::stoll(req.matches[1]));
    if (!r) throw IoError("no image with id " + std::string(req.matches[1]));
    auto j = linked(image_json(*r));
    j["has_embedding"] = S.data.search_row(r->id) >= 0;
    send_json(res, j);
  }));
  svr.Get("/api/dupes", guarded(true, [&S](const httplib::Request& req, httplib::Response& res) {
    const int64_t off = int_param(req, "offset", 0, 0, kMaxOffset);
    const int64_t lim = int_param(req, "limit", S.sopts.page_size, 1, 1000);
    nlohmann::json j = {{"collection", display_path(S.coll.dir().string())}, {"offset", off}, {"limit", lim}};
    j.update(linked(dupes_json(S.data.dupes(), S.ropts.dupes_threshold, std::nullopt, Page{size_t(off), size_t(lim)})));
    send_json(res, j);
  }));
  svr.Get("/api/clusters", guarded(true, [&S](const httplib::Request& req, httplib::Response& res) {
    const ClustersResult* c = S.data.clusters();
    if (!c) throw NotAvailableError(S.data.clusters_error());
    const ClusterReport& r = c->report;
    const int64_t off = int_param(req, "offset", 0, 0, kMaxOffset);
    const int64_t lim = int_param(req, "limit", 1000, 1, 10000);
    // The object of `irbis cluster --format json` (cluster_report_json, medoid and most_central
    // as paths), plus the ids of those images, the features clustered and the map's points paged.
    std::vector<std::string> names;
    for (const auto& rec : c->records) names.push_back(display_path(rec.path));
    nlohmann::json j = cluster_report_json(r, names);
    for (size_t ci = 0; ci < r.clusters.size(); ++ci) {
      const auto& cl = r.clusters[ci];
      nlohmann::json central = nlohmann::json::array();
      for (auto i : cl.most_central) central.push_back(c->records[size_t(i)].id);
      j["clusters"][ci]["medoid_id"] = cl.medoid >= 0 ? nlohmann::json(c->records[size_t(cl.medoid)].id) : nlohmann::json(nullptr);
      j["clusters"][ci]["most_central_ids"] = central;
    }
    nlohmann::json points = nlohmann::json::array();
    const int64_t n = int64_t(c->records.size());
    for (int64_t i = off; i < std::min(off + lim, n); ++i)
      points.push_back({{"id", c->records[size_t(i)].id}, {"cluster", r.kmeans.labels[size_t(i)]},
                        {"x", r.map.size() > size_t(2 * i) ? r.map[size_t(2 * i)] : 0.f},
                        {"y", r.map.size() > size_t(2 * i + 1) ? r.map[size_t(2 * i + 1)] : 0.f}});
    j["features"] = c->features;
    j["total_points"] = n;
    j["offset"] = off;
    j["limit"] = lim;
    j["points"] = std::move(points);
    send_json(res, j);
  }));
  svr.Get("/api/unique", guarded(true, [&S](const httplib::Request& req, httplib::Response& res) {
    const UniqueResult* u = S.data.unique();
    if (!u) throw NotAvailableError(S.data.unique_error());
    const int64_t off = int_param(req, "offset", 0, 0, kMaxOffset);
    const int64_t lim = int_param(req, "limit", S.sopts.page_size, 1, 1000);
    nlohmann::json j = {{"collection", display_path(S.coll.dir().string())}, {"offset", off}, {"limit", lim}};
    j.update(linked(unique_json(*S.data.search(), *u, Page{size_t(off), size_t(lim)})));
    send_json(res, j);
  }));
  svr.Get("/api/issues", guarded(true, [&S](const httplib::Request& req, httplib::Response& res) {
    const CollectionIssues* c = S.data.issues();
    if (!c) throw NotAvailableError(S.data.issues_error());
    const int64_t off = int_param(req, "offset", 0, 0, INT64_MAX);
    const int64_t lim = int_param(req, "limit", S.sopts.page_size, 1, 100000);
    nlohmann::json j = {{"collection", display_path(S.coll.dir().string())}, {"offset", off}, {"limit", lim}};
    j.update(linked(issues_json(*c, Page{size_t(off), size_t(lim)})));
    send_json(res, j);
  }));
  svr.Get("/api/search", guarded(true, [&S](const httplib::Request& req, httplib::Response& res) {
    const int k = int(int_param(req, "k", 20, 1, 1000));
    if (req.has_param("colors")) {  // `irbis search --colors`: images ranked by dominant colours
      if (req.has_param("id")) throw UsageError("give ?id=IMAGE_ID or ?colors=LIST, not both");
      const ColorSearch found = S.data.color_search(req.get_param_value("colors"), k);
      nlohmann::json j = {{"collection", display_path(S.coll.dir().string())}};
      j.update(linked(color_search_json(found.query, found.hits)));
      return send_json(res, j);
    }
    if (!req.has_param("id")) throw UsageError("give ?id=IMAGE_ID or ?colors=#rrggbb,..., or POST an image");
    const int64_t id = int_param(req, "id", -1, 0, kMaxId);
    const ImageRecord* q = S.data.by_id(id);
    if (!q || q->status != ImageStatus::ok) throw IoError("no image with id " + std::to_string(id));
    const VectorSearch* vs = S.data.search();
    if (!vs) throw NotAvailableError("search is not available: " + S.data.search_error());
    const int64_t row = vs->row_of_id(id);
    if (row < 0) throw NotAvailableError("image " + std::to_string(id) + " has no embedding");
    send_json(res, S.search_answer(*vs, image_json(*q), vs->data().row(int(row)), k, row));
  }));
  // Uploads are read here, not by httplib: httplib refuses a body over 8 KB that claims to be a
  // form (application/x-www-form-urlencoded, what `curl --data-binary` sends when no Content-Type
  // is given) with 413, though it is the raw image these routes accept.
  struct Upload {
    std::string bytes, filename;
    bool has_image = false;
  };
  // The multipart field `image`, or the whole body; false (and the error sent) when unreadable.
  auto read_upload = [](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read_body,
                        Upload& up) {
    std::string field;
    up.has_image = !req.is_multipart_form_data();
    const bool read_ok =
        req.is_multipart_form_data()
            ? read_body(
                  [&](const httplib::MultipartFormData& part) {
                    field = part.name;
                    if (field == "image") {
                      up.has_image = true;
                      up.filename = part.filename;
                    }
                    return true;
                  },
                  [&](const char* data, size_t n) {
                    if (field == "image") up.bytes.append(data, n);
                    return true;
                  })
            : read_body([&](const char* data, size_t n) {
                up.bytes.append(data, n);
                return true;
              });
    if (!read_ok)
      send_error(res, res.status == 413 ? 413 : 400, res.status == 413 ? "upload too large" : "could not read the upload");
    return read_ok;
  };
  svr.Post("/api/search", [&S, read_upload](const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader& read_body) {
    Upload up;
    if (!read_upload(req, res, read_body, up)) return;
    guarded(true, [&S, &up](const httplib::Request& rq, httplib::Response& rs) {
      const int k = int(int_param(rq, "k", 20, 1, 1000));
      if (!up.has_image) throw UsageError("multipart upload needs a file field named 'image'");
      nlohmann::json info;
      const cv::Mat q = S.embed_upload(up.bytes, info);
      send_json(rs, S.search_answer(*S.data.search(), info, q, k, -1));
    })(req, res);
  });
  // "Already in the collection?": the upload matched like `irbis match` (same JSON; the query's
  // path is the uploaded file's name, or "upload").
  svr.Post("/api/match", [&S, read_upload](const httplib::Request& req, httplib::Response& res,
                                           const httplib::ContentReader& read_body) {
    Upload up;
    if (!read_upload(req, res, read_body, up)) return;
    guarded(true, [&S, &up](const httplib::Request&, httplib::Response& rs) {
      if (!up.has_image) throw UsageError("multipart upload needs a file field named 'image'");
      send_json(rs, S.match_answer(up.filename.empty() ? "upload" : up.filename, up.bytes));
    })(req, res);
  });
  // Unhandled: cpp-httplib then sends the error as it is, without applying the request's Range to it.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string msg = res.status == 413 ? "upload too large" : res.status == 404 ? "not found" : "error";
    if (req.path.rfind("/api/", 0) == 0) send_error(res, res.status, msg);
    else res.set_content(msg + "\n", "text/plain");
    return httplib::Server::HandlerResponse::Unhandled;
  }));

  // httplib's default sets SO_REUSEPORT, which lets a second `irbis serve` share a taken port and
  // silently receive none of its requests; SO_REUSEADDR alone still allows a quick restart.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (opts.port < 0 || opts.port > 65535)
    throw UsageError("--port " + std::to_string(opts.port) + " is out of range (0-65535; 0 picks a free port)");
  const int port = opts.port == 0 ? svr.bind_to_any_port(opts.host) : (svr.bind_to_port(opts.host, opts.port) ? opts.port : -1);
  if (port < 0)
    throw IoError("cannot listen on " + opts.host + ":" + std::to_string(opts.port) +
                    (opts.port == 0 ? "" : " (port in use? choose another --port, or --port 0 for any free port)"));
  bound_port = port;
  if (opts.on_listen) opts.on_listen(port);
  // Warm the analyses in the background so the first views answer quickly.
  std::thread warm([&S] {
    try {
      S.data.overview();
      S.data.dupes();
      S.data.search();
      S.data.unique();
      S.data.clusters();
    } catch (const std::exception&) {
    }
  });
  g_server = &svr;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  svr.listen_after_bind();
  g_server = nullptr;
  warm.join();
}

}  // namespace irbis
