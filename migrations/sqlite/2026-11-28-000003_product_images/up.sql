-- Product photos, resized at upload and kept in the database (as base64 JPEG) so that
-- every server process behind a load balancer serves the same ones.
CREATE TABLE product_images (
    id INTEGER PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products(id),
    content_hash TEXT NOT NULL UNIQUE,
    display_jpeg_b64 TEXT NOT NULL,
    thumb_jpeg_b64 TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    uploaded_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX product_images_product ON product_images(product_id);
